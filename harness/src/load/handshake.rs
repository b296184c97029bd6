//! The challenge-response by which a remote worker and its coordinator each prove they hold the
//! run's token, without either sending it.
//!
//! ```text
//! worker → hello     {name, index, version, nonce = Nw}
//! coord  → challenge {nonce = Nc, proof = HMAC(token, "allocstorm coordinator v1" | Nw | Nc)}
//! worker   checks the coordinator's proof before sending anything that depends on the token
//! worker → proof     {proof = HMAC(token, "allocstorm worker v1" | Nc | Nw)}
//! coord    checks it, then sends the plan (or `refused`)
//! ```
//!
//! HMAC-SHA256 (RFC 2104); nonces are 32 random bytes, sent as 64 hex digits and MACed as bytes.
//! The two labels differ, so one side's proof is never the other's (no reflection); each side's
//! proof covers a fresh nonce of its own, so a recorded exchange does not pass again (no
//! replay). A peer without the token learns nonces and, at most, one proof over data it knows:
//! testing a guessed token against it costs an HMAC, and a token of 16 random bytes (the one
//! the coordinator makes) is beyond guessing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in a nonce.
pub const NONCE_BYTES: usize = 32;
/// What the coordinator's proof is a MAC of, before the nonces: never the worker's.
const COORDINATOR: &[u8] = b"allocstorm coordinator v1";
/// What the worker's proof is a MAC of, before the nonces.
const WORKER: &[u8] = b"allocstorm worker v1";

/// A nonce: 32 bytes from the thread's CSPRNG.
pub type Nonce = [u8; NONCE_BYTES];

/// A new random nonce.
pub fn nonce() -> Nonce {
    rand::random()
}

/// Lower-case hex, as nonces and proofs travel.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A nonce from its 64 hex digits; `None` for anything else.
pub fn parse_nonce(s: &str) -> Option<Nonce> {
    let v = unhex(s)?;
    v.try_into().ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn mac(token: &str, label: &[u8], first: &Nonce, second: &Nonce) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut m = HmacSha256::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    m.update(label);
    m.update(first);
    m.update(second);
    m
}

/// The coordinator's proof for the worker's nonce `nw` and its own `nc`, in hex.
pub fn coordinator_proof(token: &str, nw: &Nonce, nc: &Nonce) -> String {
    hex(&mac(token, COORDINATOR, nw, nc).finalize().into_bytes())
}

/// The worker's proof for the coordinator's nonce `nc` and its own `nw`, in hex.
pub fn worker_proof(token: &str, nc: &Nonce, nw: &Nonce) -> String {
    hex(&mac(token, WORKER, nc, nw).finalize().into_bytes())
}

/// Whether `proof` (hex) is the coordinator's for these nonces; compared in constant time.
pub fn coordinator_proved(token: &str, nw: &Nonce, nc: &Nonce, proof: &str) -> bool {
    verify(mac(token, COORDINATOR, nw, nc), proof)
}

/// Whether `proof` (hex) is the worker's for these nonces; compared in constant time.
pub fn worker_proved(token: &str, nc: &Nonce, nw: &Nonce, proof: &str) -> bool {
    verify(mac(token, WORKER, nc, nw), proof)
}

fn verify(m: HmacSha256, proof: &str) -> bool {
    match unhex(proof) {
        Some(bytes) => m.verify_slice(&bytes).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (a short key, as a typed token is) and test case 6 (a key longer than
    /// the block, hashed first): HMAC-SHA256 here is the standard one.
    #[test]
    fn hmac_sha256_known_answers_rfc_4231() {
        let kat = |key: &[u8], data: &[u8]| {
            let mut m = HmacSha256::new_from_slice(key).unwrap();
            m.update(data);
            hex(&m.finalize().into_bytes())
        };
        assert_eq!(
            kat(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            kat(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn both_sides_with_the_token_prove_it() {
        let (nw, nc) = (nonce(), nonce());
        let pc = coordinator_proof("t0k3n", &nw, &nc);
        assert_eq!(pc.len(), 64);
        assert!(coordinator_proved("t0k3n", &nw, &nc, &pc));
        let pw = worker_proof("t0k3n", &nc, &nw);
        assert!(worker_proved("t0k3n", &nc, &nw, &pw));
        assert_ne!(pc, pw);
    }

    #[test]
    fn a_wrong_token_fails_on_each_side() {
        let (nw, nc) = (nonce(), nonce());
        let pc = coordinator_proof("other", &nw, &nc);
        assert!(!coordinator_proved("t0k3n", &nw, &nc, &pc));
        let pw = worker_proof("other", &nc, &nw);
        assert!(!worker_proved("t0k3n", &nc, &nw, &pw));
        // A prefix or an extension of the token is another token.
        assert!(!worker_proved(
            "t0k3",
            &nc,
            &nw,
            &worker_proof("t0k3n", &nc, &nw)
        ));
    }

    /// A fake worker that sends the coordinator's proof back as its own (or a fake coordinator
    /// the worker's), even with the nonces swapped, is refused: the labels differ.
    #[test]
    fn a_reflected_proof_fails() {
        let (nw, nc) = (nonce(), nonce());
        let pc = coordinator_proof("t0k3n", &nw, &nc);
        assert!(!worker_proved("t0k3n", &nc, &nw, &pc));
        assert!(!worker_proved("t0k3n", &nw, &nc, &pc));
        let pw = worker_proof("t0k3n", &nc, &nw);
        assert!(!coordinator_proved("t0k3n", &nw, &nc, &pw));
        assert!(!coordinator_proved("t0k3n", &nc, &nw, &pw));
    }

    /// A recorded exchange played again: the coordinator's new nonce makes the old proof wrong,
    /// and the worker's new nonce makes an old challenge wrong.
    #[test]
    fn a_replayed_proof_fails() {
        let (nw, nc_then, nc_now) = (nonce(), nonce(), nonce());
        assert_ne!(nc_then, nc_now);
        let recorded = worker_proof("t0k3n", &nc_then, &nw);
        assert!(!worker_proved("t0k3n", &nc_now, &nw, &recorded));
        let (nw_now, challenge) = (nonce(), coordinator_proof("t0k3n", &nw, &nc_then));
        assert!(!coordinator_proved("t0k3n", &nw_now, &nc_then, &challenge));
    }

    #[test]
    fn nonces_and_proofs_parse_only_as_hex_of_their_length() {
        let n = nonce();
        assert_eq!(parse_nonce(&hex(&n)), Some(n));
        assert_eq!(parse_nonce(&hex(&n).to_uppercase()), Some(n));
        for bad in ["", "00", &"0".repeat(63), &"0".repeat(66), &"g".repeat(64)] {
            assert_eq!(parse_nonce(bad), None, "{bad:?}");
        }
        // A multi-byte character where a digit should be is not hex (and does not panic).
        assert_eq!(parse_nonce(&format!("é{}", "0".repeat(62))), None);
        let (nw, nc) = (nonce(), nonce());
        let pw = worker_proof("t", &nc, &nw);
        assert!(!worker_proved("t", &nc, &nw, &pw[..62]));
        assert!(!worker_proved("t", &nc, &nw, ""));
        assert!(!worker_proved("t", &nc, &nw, &format!("{pw}00")));
    }
}
