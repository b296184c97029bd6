//! `/files/{key}`: every key reads the hot file's bytes as an object of its own, writes are
//! kept per key (replacing the last) within `--max-stored`, and `/file/hot` is unchanged.

mod common;

use common::{num, Alloc, Conn, Server};

#[test]
fn keys_read_the_hot_file_and_writes_are_kept_within_max_stored() {
    let server = Server::start(
        Alloc::Glibc,
        &[
            "--create-file",
            "1MiB",
            "--seed",
            "3",
            "--max-stored",
            "10KiB",
            "--max-range",
            "64KiB",
        ],
    );
    let mut c = Conn::open(server.addr);
    let range = [("Range", "bytes=100-4195")];
    let hot = c.send("GET", "/file/hot", &range);
    assert_eq!(hot.status, 206);
    for key in ["0", "7", "999999"] {
        let r = c.send("GET", &format!("/files/{key}"), &range);
        assert_eq!(r.status, 206, "{key}");
        assert_eq!(r.body, hot.body, "key {key} reads the hot file's bytes");
        assert_eq!(r.header("content-range"), hot.header("content-range"));
    }
    for bad in ["/files/1000000", "/files/x", "/files/", "/files/-1"] {
        assert_eq!(c.send("GET", bad, &[]).status, 404, "{bad}");
    }
    let s = server.stats();
    assert_eq!(num(&s, "files/keys"), 3);
    assert!(num(&s, "files/key_meta_bytes") > 0);

    // Writes: kept per key, the last one wins, the oldest evicted past 10 KiB.
    for (key, len) in [(7, 4000), (7, 3000), (8, 6000), (9, 2000)] {
        let r = c.send_body("PUT", &format!("/files/{key}"), &[], &vec![b'w'; len]);
        assert_eq!(r.status, 204, "{}", r.text());
    }
    assert_eq!(c.send_body("POST", "/files/10", &[], b"tiny").status, 204);
    let s = server.stats();
    let f = |k: &str| num(&s, &format!("files/{k}"));
    // 3000 + 6000 + 2000 is over 10 KiB (10240): key 7's body went; then 4 more bytes.
    assert_eq!((f("writes"), f("evicted")), (5, 1));
    assert_eq!(
        (f("stored_objects"), f("stored_bytes")),
        (3, 6000 + 2000 + 4)
    );
    assert_eq!(
        num(&s, "app/files_bytes"),
        f("key_meta_bytes") + f("stored_bytes")
    );
    // A body longer than --max-range is refused before it is read (its connection is closed
    // then, as hyper does with a body left unread); the server goes on.
    let big = c.send_body("PUT", "/files/1", &[], &vec![0u8; 65 << 10]);
    assert_eq!(big.status, 413);
    let mut c = Conn::open(server.addr);
    assert_eq!(c.send("GET", "/files/1", &range).status, 206);
    assert_eq!(c.send("DELETE", "/files/1", &[]).status, 404);
}
