//! `report.html` as a browser shows it: the example report is rendered again from its records,
//! opened in headless Chromium (Debian's package, installed by `scripts/tools.sh`; a missing
//! browser fails the test), and the screenshot's pixels must show the page, the plots' line
//! per variant in its colour, and the tables' banded rows. Chromium's own network log must
//! hold no request made by the page — and, so that check can fail, it does hold one for a
//! page that names an image on the web.

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use allocstorm::report::html::BAND;
use allocstorm::report::plot::variant_color;
use common::{allocstorm, root, Running};
use serde_json::Value;

/// Wide enough for the tables, tall enough for the results table and the first plots.
const WINDOW: (u32, u32) = (1200, 6000);

/// What one page looked like in the browser: its screenshot and the requests it made.
struct Shot {
    pixels: image::RgbImage,
    page_requests: Vec<String>,
}

/// Opens `page` in headless Chromium: a screenshot and the network log, both read back.
fn open_in_chromium(page: &Path, work: &Path) -> Shot {
    let (png, netlog) = (work.join("shot.png"), work.join("netlog.json"));
    let mut cmd = Command::new(common::tools::chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ])
    .args(["--no-first-run", "--disable-background-networking"])
    .arg(format!(
        "--user-data-dir={}",
        work.join("profile").display()
    ))
    .arg(format!("--log-net-log={}", netlog.display()))
    // Nothing resolves: a page that reached out could not get anything back.
    .arg("--host-resolver-rules=MAP * ~NOTFOUND")
    .arg(format!("--screenshot={}", png.display()))
    .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
    .arg(format!("file://{}", page.display()))
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    // SAFETY: prctl only, between fork and exec: the browser dies with the test.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    };
    let (status, stderr) = Running::spawn(cmd).wait_within(Duration::from_secs(60));
    assert!(status.success(), "chromium: {status}: {stderr}");
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}: {stderr}", png.display()));
    Shot {
        pixels: image::load_from_memory(&bytes).unwrap().to_rgb8(),
        page_requests: page_requests(&common::read_json(&netlog)),
    }
}

/// The URLs of the network requests a page started (a job's start event carries its URL and
/// initiator; the browser's own requests, for updates, time or spell-check, say "not an
/// origin").
fn page_requests(netlog: &Value) -> Vec<String> {
    let start_job = &netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    let events = netlog["events"].as_array().expect("a network log's events");
    events
        .iter()
        .filter(|e| &e["type"] == start_job)
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| Some(e["params"]["url"].as_str()?.to_string()))
        .collect()
}

/// The pixels within a few steps of `rgb` in every channel (a line's anti-aliased core).
fn near(img: &image::RgbImage, rgb: [u8; 3]) -> usize {
    img.pixels()
        .filter(|p| (0..3).all(|c| p.0[c].abs_diff(rgb[c]) <= 12))
        .count()
}

/// Horizontal bands of `rgb`: runs of at least 8 rows with a quarter of their pixels exactly it.
fn bands(img: &image::RgbImage, rgb: [u8; 3]) -> usize {
    let banded = |y: u32| {
        let n = (0..img.width())
            .filter(|&x| img.get_pixel(x, y).0 == rgb)
            .count();
        n * 4 >= img.width() as usize
    };
    let (mut found, mut run) = (0, 0);
    for y in 0..img.height() {
        if banded(y) {
            run += 1;
        } else {
            found += usize::from(run >= 8);
            run = 0;
        }
    }
    found + usize::from(run >= 8)
}

/// `reports/example` rendered again into a directory of the test's own.
fn example_rendered() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    for e in std::fs::read_dir(root().join("reports/example/runs")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), runs.join(e.file_name())).unwrap();
    }
    let out = allocstorm(tmp.path(), &["report".as_ref(), tmp.path().as_os_str()]);
    assert_eq!(out.code, 0, "{out:?}");
    let page = tmp.path().join("report.html");
    (tmp, page)
}

#[test]
fn the_browser_shows_the_tables_and_plots_of_report_html_and_fetches_nothing() {
    let (tmp, page) = example_rendered();
    let shot = open_in_chromium(&page, tmp.path());
    let img = &shot.pixels;
    assert_eq!((img.width(), img.height()), WINDOW);

    let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        inked * 20 > img.pixels().len(),
        "the page is blank: {inked} pixels not white"
    );

    // The example compares seven variants; each has its line (and legend swatch) in the plots.
    let summary = common::read_json(&tmp.path().join("summary.json"));
    let variants = summary["variants"].as_array().unwrap().len();
    assert_eq!(variants, 7, "the example's variants");
    for i in 0..variants {
        let c = variant_color(i);
        let n = near(img, [c.0, c.1, c.2]);
        eprintln!("variant {i}: {n} pixels of its colour");
        assert!(n >= 200, "variant {i}'s colour {c:?}: only {n} pixels");
    }

    // Every other row of a table is banded: the results table alone has three.
    let n = bands(img, BAND);
    eprintln!("{n} banded rows; {inked} pixels not white");
    assert!(n >= 3, "only {n} banded table rows in the screenshot");

    assert!(
        shot.page_requests.is_empty(),
        "the page fetched {:?}",
        shot.page_requests
    );
}

#[test]
fn the_network_check_sees_a_page_that_fetches() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("fetches.html");
    let html = "<!DOCTYPE html><p>x</p><img src=\"http://example.invalid/plot.png\">";
    std::fs::write(&page, html).unwrap();
    let shot = open_in_chromium(&page, tmp.path());
    assert_eq!(shot.page_requests, ["http://example.invalid/plot.png"]);
}
