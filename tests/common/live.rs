//! Reading a live source through the API, as the live tests do.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::{get, Server};

/// `GET /api/live/{id}`, which must answer 200.
pub fn source(server: &Server, id: &str) -> Value {
    let (code, v) = get(&server.url(&format!("/api/live/{id}")));
    assert_eq!(code, 200, "{v}");
    v
}

/// Polls source `id` until its state is one of `want`.
pub fn wait_state(server: &Server, id: &str, want: &[&str], timeout: Duration) -> Value {
    let started = Instant::now();
    loop {
        let v = source(server, id);
        if want.iter().any(|w| v["state"] == *w) {
            return v;
        }
        assert!(
            started.elapsed() < timeout,
            "source {id} is not {want:?} but {v}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
