//! Hostile package names and a killed install against `scripts/deps.sh` and `scripts/apt.sh`
//! (issue 28), with `apt-get`, `dpkg-query` and friends replaced by stubs on `PATH` that log
//! what they were given: nothing here installs anything or touches `/usr/sbin/policy-rc.d`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A package list a variants file could hold, as `allocstorm deps --missing` prints it: an apt
/// option, a local .deb and a glob (issue 28's finding: they reached `sudo apt-get install -y`).
const HOSTILE: &str = "-oDPkg::Pre-Invoke::=touch pwned ./evil.deb *\n--allow-unauthenticated";

/// A directory of stubs (`bin/`) and their state: `apt-get` logs its arguments a line per call
/// to `apt-get.log` and marks its install done; `dpkg-query` says installed once it is.
struct Stubs {
    dir: tempfile::TempDir,
}

impl Stubs {
    fn new() -> Stubs {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let s = Stubs { dir };
        s.stub(
            "apt-get",
            "printf '%s|' \"$@\" >> \"$STATE/apt-get.log\"; echo >> \"$STATE/apt-get.log\"\n\
             case \" $* \" in *' install '*) touch \"$STATE/installed\" ;; esac",
        );
        s.stub(
            "dpkg-query",
            "[ -e \"$STATE/installed\" ] && printf 'install ok installed'; exit 0",
        );
        s.stub("dpkg", "exit 0");
        s.stub("sudo", "exec \"$@\"");
        s
    }

    fn stub(&self, name: &str, body: &str) {
        let p = self.dir.path().join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The policy-rc.d the scripts write, here instead of /usr/sbin.
    fn policy(&self) -> PathBuf {
        self.path("policy-rc.d")
    }

    fn apt_log(&self) -> String {
        std::fs::read_to_string(self.path("apt-get.log")).unwrap_or_default()
    }

    /// `bash -c SCRIPT` in the repository, the stubs first on PATH.
    fn bash(&self, script: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .args(["-c", script])
            .current_dir(common::root())
            .env("PATH", path)
            .env("STATE", self.dir.path())
            .env("APT_POLICY_RC", self.policy())
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `deps.sh --scenario` with an allocstorm that names hostile packages: none reaches apt-get
/// (neither as an option, nor split into words, nor glob-expanded), and it says why.
#[test]
fn hostile_package_names_never_reach_apt_get() {
    let stubs = Stubs::new();
    let fake = stubs.path("allocstorm");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\nprintf '%s\\n' '{HOSTILE}'\nexit 3\n"),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scenario = stubs.path("s.toml");
    std::fs::write(&scenario, "name = \"t\"\n").unwrap();
    let o = stubs.bash(&format!(
        "ALLOCSTORM={} bash scripts/deps.sh --scenario {}",
        fake.display(),
        scenario.display()
    ));
    assert_eq!(o.status.code(), Some(0), "deps.sh never fails: {o:?}");
    assert_eq!(stubs.apt_log(), "", "apt-get ran: {o:?}");
    let err = stderr(&o);
    assert!(err.contains("is not a Debian package name"), "{err}");
    assert!(
        !stubs.policy().exists(),
        "no policy-rc.d for nothing installed"
    );
}

/// `apt_ensure` of a name starting with `-` (or any that is not Debian's grammar) stops before
/// apt-get, exit 1, naming it; good names go after `--`.
#[test]
fn apt_ensure_refuses_an_option_and_puts_names_after_dashdash() {
    let stubs = Stubs::new();
    for bad in [
        "-oAPT::Get::AllowUnauthenticated=1",
        "./evil.deb",
        "*",
        "Lib",
        "a",
    ] {
        let o = stubs.bash(&format!(
            ". scripts/apt.sh; apt_ensure t hint libfoo1 '{bad}'"
        ));
        assert_eq!(o.status.code(), Some(1), "{bad}: {o:?}");
        assert!(
            stderr(&o).contains("is not a Debian package name"),
            "{bad}: {o:?}"
        );
        assert_eq!(stubs.apt_log(), "", "{bad}: apt-get ran");
    }
    let o = stubs.bash(". scripts/apt.sh; apt_ensure t hint libfoo1 g++-12");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let log = stubs.apt_log();
    assert!(log.contains("|--|libfoo1|g++-12|"), "{log}");
    assert!(
        !stubs.policy().exists(),
        "the temporary policy-rc.d is removed"
    );
}

/// A kill while the deny-all policy-rc.d is being put in place leaves none behind (issue 28: the
/// trap that removes it was set after it was written; a kill in between left it, and later
/// upgrades never restarted a service). Here `chmod`, the step after writing it, is the kill.
#[test]
fn a_kill_during_the_install_leaves_no_policy_rc_d() {
    let stubs = Stubs::new();
    stubs.stub("chmod", "kill -TERM $PPID");
    let o = stubs.bash(". scripts/apt.sh; apt_ensure t hint libfoo1");
    assert_eq!(o.status.code(), Some(143), "killed by the TERM: {o:?}");
    assert!(!stubs.policy().exists(), "policy-rc.d left behind: {o:?}");
    assert_eq!(stubs.apt_log(), "", "never got to apt-get");
}

/// The trap removes only what it made: a policy-rc.d that was there before stays, byte for byte.
#[test]
fn a_policy_rc_d_that_was_there_stays() {
    let stubs = Stubs::new();
    let theirs = "#!/bin/sh\n# the admin's own\nexit 0\n";
    std::fs::write(stubs.policy(), theirs).unwrap();
    let o = stubs.bash(". scripts/apt.sh; apt_ensure t hint libfoo1");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(std::fs::read_to_string(stubs.policy()).unwrap(), theirs);
}
