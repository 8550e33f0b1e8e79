//! A full disk, for real: the server's data folder on a 24 MiB tmpfs that this test mounts (it
//! needs root, as `make test` has here and in CI; without it the test fails saying so). While
//! vtest.avi is processed, a ballast file takes the rest of the space. The job must fail with its reason (never stay
//! `processing`), `/readyz` must say why the server is not ready, a further upload gets a 507,
//! DELETE frees the space, and then the next upload is processed, all without a restart.

mod common;

use std::time::{Duration, Instant};

use common::server::{curl, get, Server};
use common::tmpfs::{available_bytes, Tmpfs};
use common::*;

fn ready(server: &Server) -> (u16, serde_json::Value) {
    get(&server.url("/readyz"))
}

#[test]
fn a_full_disk_fails_the_job_and_the_server_recovers_without_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let disk = Tmpfs::mount(&data, 24);
    let mut server = Server::start(&data, &[("SIGHTLINE_MIN_FREE_MB", "1")]);
    assert_eq!(ready(&server).0, 200, "{:?}", ready(&server).1);

    let (code, accepted) = server.upload(&media("vtest.avi"), &["every=5"]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    // Another program takes the rest of the disk while the job runs.
    let free = available_bytes(&data);
    std::fs::write(data.join("ballast"), vec![7u8; free.saturating_sub(64 * 1024) as usize]).expect("ballast");
    let record = server.wait_status(&id, &["ready", "failed"], Duration::from_secs(300));
    assert_eq!(record["status"], "failed", "80 s of HLS fit in 64 KiB? {record}");
    let why = record["error"].as_str().unwrap_or_default();
    assert!(!why.is_empty(), "a failed job says why: {record}");

    // Not ready, and saying why; no new upload while the floor is not met.
    let (code, readiness) = ready(&server);
    assert_eq!(code, 503, "{readiness}");
    assert!(readiness["reason"].is_string(), "{readiness}");
    let (code, refused) = server.upload(&media("bikes_1fps.mp4"), &[]);
    assert_eq!(code, 507, "{refused}");
    assert_eq!(refused["error"], "insufficient_storage", "{refused}");

    // Deleting the failed video frees the space; the server takes work again by itself.
    let (code, body) = curl("DELETE", &server.url(&format!("/api/videos/{id}")), &[]);
    assert_eq!(code, 204, "{body}");
    let started = Instant::now();
    while ready(&server).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never ready again: {:?}",
            ready(&server).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, accepted) = server.upload(&media("bikes_1fps.mp4"), &["every=5"]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id");
    let record = server.wait_status(id, &["ready", "failed"], Duration::from_secs(120));
    assert_eq!(record["status"], "ready", "{record}");
    server.kill();
    drop(disk);
}
