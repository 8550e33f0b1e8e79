//! End to end: live sources through the faults they meet in the field, against a real server and
//! the stand-in RTSP camera (`examples/rtsp_camera.rs`, vtest.avi at its own 10 fps).
//!
//! - Restarted three ways (stop and start through the API, SIGTERM and a new server on the same
//!   data folder, kill -9 and a new server), a source keeps every event its rules stored, and
//!   its detections, stats and track numbers, and adds new events after them.
//! - Its data folder on a small tmpfs that another program fills mid-stream, the source reads
//!   `reconnecting` with the reason, the metrics follow, and once the space is back it comes back
//!   `live` by itself, its frames moving and its playlists going on. (The tmpfs needs root, as
//!   `make test` has here and in CI; where it cannot be mounted, that test fails saying so.)
//! - An HLS source on a closed port fails saying, in our words, that it could not connect.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::camera::Camera;
use common::live::{source, wait_state};
use common::server::{curl_raw, free_port, get, Server};
use common::tmpfs::{available_bytes, Tmpfs};
use common::{media, run, stderr};
use serde_json::{json, Value};

/// The tests that load the machine take turns.
static HEAVY: Mutex<()> = Mutex::new(());

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SIGHTLINE_SEGMENT_SECONDS", "1"),
        ("SIGHTLINE_LIVE_DVR_SEGMENTS", "5"),
        ("SIGHTLINE_CLUSTER_ENABLED", "false"),
    ]
}

/// A zone over most of the picture, for people: everyone who walks into view enters it, so
/// vtest.avi's street gives events every few seconds.
fn floor_rules() -> Value {
    json!({
        "zones": [{
            "name": "floor",
            "polygon": [{"x": 0.02, "y": 0.02}, {"x": 0.98, "y": 0.02}, {"x": 0.98, "y": 0.98}, {"x": 0.02, "y": 0.98}],
            "classes": ["person"],
        }]
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Every stored event of video `id`, page by page, as (kind, rule, track, frame).
fn events(server: &Server, id: &str) -> Vec<(String, String, u64, u64)> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, page) = get(&server.url(&format!("/api/videos/{id}/analytics/events?limit=1000{cursor}")));
        assert_eq!(code, 200, "{page}");
        for e in page["items"].as_array().expect("items") {
            all.push((
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["rule"].as_str().unwrap_or_default().to_string(),
                e["track_id"].as_u64().expect("track"),
                e["frame"].as_u64().expect("frame"),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return all,
        }
    }
}

/// Detections of video `id` captured before `end_at` (Unix ms), at most 5000.
fn detections_before(server: &Server, id: &str, end_at: u64) -> usize {
    let (code, page) = get(&server.url(&format!("/api/videos/{id}/detections?end_at={end_at}&limit=5000")));
    assert_eq!(code, 200, "{page}");
    page["items"].as_array().map_or(0, Vec::len)
}

fn total_detections(server: &Server, id: &str) -> u64 {
    let (code, stats) = get(&server.url(&format!("/api/videos/{id}/stats")));
    assert_eq!(code, 200, "{stats}");
    stats["total_detections"].as_u64().expect("total_detections")
}

/// Waits until video `id` has stored more than `n` events.
fn wait_events_beyond(server: &Server, id: &str, n: usize, timeout: Duration) -> Vec<(String, String, u64, u64)> {
    let started = Instant::now();
    loop {
        let all = events(server, id);
        if all.len() > n {
            return all;
        }
        assert!(
            started.elapsed() < timeout,
            "no event beyond the {n} stored: {all:?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Ends the server with SIGTERM, as a service manager does, and waits for it to exit.
fn terminate(server: &mut Server) {
    let pid = server.child.id().to_string();
    let sent = run(Command::new("kill").args(["-TERM", &pid]));
    assert!(sent.status.success(), "kill -TERM: {}", stderr(&sent));
    let started = Instant::now();
    while server.child.try_wait().expect("the server's status").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A sample's value in a Prometheus exposition; 0 when the series is not there.
fn metric(server: &Server, series: &str) -> f64 {
    let (_, text) = curl_raw("GET", &server.url("/metrics"), &[]);
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[derive(Clone, Copy, Debug)]
enum Restart {
    StopStart,
    Sigterm,
    Kill,
}

#[test]
fn a_restarted_source_keeps_its_events_detections_stats_and_track_numbers() {
    let _turn = HEAVY.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let camera = Camera::serving(free_port(), &media("vtest.avi"), 6);
    let mut server = Server::start(dir.path(), &env());
    let (code, added) = server.send_json(
        "POST",
        "/api/live",
        &json!({ "url": camera.url, "name": "street", "rules": floor_rules() }),
    );
    assert_eq!(code, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_string();
    wait_state(&server, &id, &["live"], Duration::from_secs(60));
    wait_events_beyond(&server, &id, 8, Duration::from_secs(120));

    let mut report = Vec::new();
    for restart in [Restart::StopStart, Restart::Sigterm, Restart::Kill] {
        let before = events(&server, &id);
        // Detections are stored in batches: those more than 5 s old are stored whatever happens.
        let settled = now_ms() - 5_000;
        let detections = detections_before(&server, &id, settled);
        let total = total_detections(&server, &id);
        match restart {
            Restart::StopStart => {
                let (code, v) = server.send_json("DELETE", &format!("/api/live/{id}"), &json!({}));
                assert_eq!(code, 200, "{v}");
                let (code, v) = server.send_json("POST", &format!("/api/live/{id}/start"), &json!({}));
                assert_eq!(code, 200, "{v}");
            }
            Restart::Sigterm => {
                terminate(&mut server);
                server = Server::start(dir.path(), &env());
            }
            Restart::Kill => {
                server.kill();
                server = Server::start(dir.path(), &env());
            }
        }
        // The camera may hold a killed server's session for a while before it takes a new one.
        wait_state(&server, &id, &["live"], Duration::from_secs(150));
        // Right after the start, before any new event: all there.
        let resumed = events(&server, &id);
        // A few new people in view: new events, numbered after the stored ones.
        let after = wait_events_beyond(&server, &id, before.len() + 4, Duration::from_secs(120));
        report.push(format!(
            "{restart:?}: {} events before, {} on resuming, {} a little later; {detections} detections \
             older than 5 s before, {} after",
            before.len(),
            resumed.len(),
            after.len(),
            detections_before(&server, &id, settled)
        ));
        let kept: BTreeSet<_> = after.iter().collect();
        for e in &before {
            assert!(
                kept.contains(e),
                "{restart:?}: {e:?} was lost\nbefore {before:?}\nafter {after:?}"
            );
        }
        assert!(resumed.len() >= before.len(), "{restart:?}: {resumed:?}");
        // The new events are new tracks', numbered after every track stored before.
        let last_track = before.iter().map(|e| e.2).max().expect("events before");
        let new: Vec<_> = after.iter().filter(|e| !before.contains(e)).collect();
        assert!(
            new.iter().all(|e| e.2 > last_track),
            "{restart:?}: a new event's track reuses a number (last before {last_track}): {new:?}"
        );
        assert!(
            detections_before(&server, &id, settled) >= detections,
            "{restart:?}: detections lost"
        );
        assert!(
            total_detections(&server, &id) >= total.min(detections as u64),
            "{restart:?}: the stats forgot detections"
        );
    }
    println!("events across restarts:\n  {}", report.join("\n  "));
    // The rules' record counts what is stored.
    let (_, rules) = get(&server.url(&format!("/api/videos/{id}/rules")));
    assert!(
        rules["events"].as_u64() >= Some(events(&server, &id).len() as u64),
        "{rules}"
    );
}

/// Another program that takes whatever space the disk has, and keeps taking what is freed,
/// until dropped; then it deletes its file.
struct Ballast {
    path: PathBuf,
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ballast {
    fn fill(dir: &Path) -> Ballast {
        let path = dir.join("ballast");
        let running = Arc::new(AtomicBool::new(true));
        let (file, flag, dir) = (path.clone(), running.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            use std::io::Write;
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .expect("ballast file");
            let chunk = vec![7u8; 256 * 1024];
            while flag.load(Ordering::Relaxed) {
                let mut free = available_bytes(&dir);
                // All but 64 KiB: writes fail, the free-space floor is not met.
                while free > 64 * 1024 {
                    let n = (free - 64 * 1024).min(chunk.len() as u64) as usize;
                    if out.write_all(&chunk[..n]).is_err() {
                        break;
                    }
                    free -= n as u64;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Ballast {
            path,
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A server on data folder `data` whose log goes to `log_dir/server.log` (where
/// [`Server::log`] reads it): a log on the disk the test fills would take the server down with
/// it, which is a test of the logger, not of the live source.
fn start_logging_elsewhere(data: &Path, log_dir: &Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let cluster = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(log_dir.join("server.log")).expect("server log");
    let config = log_dir.join("test-config.toml");
    std::fs::write(&config, "").expect("config file");
    let mut cmd = common::sightline();
    for (key, _) in std::env::vars() {
        if key.starts_with("SIGHTLINE_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("serve")
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .arg("--config")
        .arg(&config)
        .env("SIGHTLINE_CLUSTER_LISTEN", &cluster)
        .env("SIGHTLINE_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .envs(env.iter().copied());
    let server = Server {
        child: cmd.spawn().expect("server starts"),
        base: format!("http://127.0.0.1:{port}"),
        data: log_dir.to_path_buf(),
        cluster,
    };
    let started = Instant::now();
    while get(&server.url("/healthz")).0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn media_sequence(server: &Server, id: &str) -> Option<(u64, String)> {
    let (code, master) = curl_raw("GET", &server.url(&format!("/streams/{id}/master.m3u8")), &[]);
    let master = String::from_utf8_lossy(&master).into_owned();
    let variant = master.lines().find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))?;
    if code != 200 {
        return None;
    }
    let (code, text) = curl_raw("GET", &server.url(&format!("/streams/{id}/{variant}")), &[]);
    let text = String::from_utf8_lossy(&text).into_owned();
    let sequence = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.trim().parse().ok())?;
    (code == 200 && text.contains("#EXTINF")).then_some((sequence, text))
}

#[test]
fn a_source_on_a_full_disk_reconnects_and_comes_back_by_itself_when_space_returns() {
    let _turn = HEAVY.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let disk = Tmpfs::mount(&data, 64);
    let camera = Camera::serving(free_port(), &media("vtest.avi"), 6);
    let mut env = env();
    env.push(("SIGHTLINE_MIN_FREE_MB", "1"));
    let mut server = start_logging_elsewhere(&data, dir.path(), &env);
    let (code, added) = server.send_json("POST", "/api/live", &json!({ "url": camera.url, "name": "street" }));
    assert_eq!(code, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_string();
    wait_state(&server, &id, &["live"], Duration::from_secs(60));
    let started = Instant::now();
    let (sequence_before, _) = loop {
        if let Some(p) = media_sequence(&server, &id) {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never playable");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(metric(&server, "sightline_live_sources{state=\"live\"}"), 1.0);

    // Another program takes the disk mid-stream, and keeps it.
    let ballast = Ballast::fill(&data);
    let filled = Instant::now();
    let down = wait_state(&server, &id, &["reconnecting", "failed"], Duration::from_secs(60));
    let noticed = filled.elapsed();
    let reason = down["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("must stay free"),
        "the reason names the full disk: {down}"
    );
    assert_eq!(
        down["state"], "reconnecting",
        "a full disk is a cause that passes: {down}"
    );
    // It stays down while the disk is full, trying again with back-off, and says so.
    std::thread::sleep(Duration::from_secs(8));
    let still = source(&server, &id);
    assert_eq!(still["state"], "reconnecting", "{still}");
    assert!(still["failed_attempts"].as_u64() >= Some(2), "{still}");
    assert_eq!(still["input_fps"], 0.0, "{still}");
    assert_eq!(metric(&server, "sightline_live_sources{state=\"live\"}"), 0.0);
    assert_eq!(metric(&server, "sightline_live_sources{state=\"reconnecting\"}"), 1.0);
    let frames_down = still["frames_in"].as_u64().expect("frames_in");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        source(&server, &id)["frames_in"].as_u64(),
        Some(frames_down),
        "frames move on a full disk?"
    );

    // The space comes back: live again by itself, frames moving, the playlists going on.
    drop(ballast);
    let freed = Instant::now();
    let back = wait_state(&server, &id, &["live"], Duration::from_secs(120));
    let came_back = freed.elapsed();
    assert_eq!(back["reason"], Value::Null, "{back}");
    assert!(back["reconnects"].as_u64() >= Some(1), "{back}");
    let frames_back = back["frames_in"].as_u64().expect("frames_in");
    std::thread::sleep(Duration::from_secs(3));
    let moving = source(&server, &id);
    assert!(
        moving["frames_in"].as_u64() > Some(frames_back.max(frames_down)),
        "frames stand still: {moving}"
    );
    let started = Instant::now();
    let (sequence_after, playlist) = loop {
        if let Some(p) = media_sequence(&server, &id) {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no playlist after the disk came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        sequence_after > sequence_before,
        "the media sequence went back: {playlist}"
    );
    assert_eq!(metric(&server, "sightline_live_sources{state=\"live\"}"), 1.0);
    assert_eq!(metric(&server, "sightline_live_sources{state=\"reconnecting\"}"), 0.0);
    let (_, video) = get(&server.url(&format!("/api/videos/{id}")));
    assert_eq!(video["status"], "processing", "{video}");
    println!("full disk: noticed after {noticed:.1?} ({reason}); back live {came_back:.1?} after the space returned");
    server.kill();
    drop(camera);
    drop(disk);
}

#[test]
fn an_hls_source_on_a_closed_port_fails_saying_it_could_not_connect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(
        dir.path(),
        &[
            ("SIGHTLINE_LIVE_MAX_ATTEMPTS", "2"),
            ("SIGHTLINE_CLUSTER_ENABLED", "false"),
        ],
    );
    let port = free_port();
    let url = format!("http://viewer:s3cret@127.0.0.1:{port}/live/index.m3u8");
    let (code, v) = server.send_json("POST", "/api/live", &json!({ "url": url }));
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let failed = wait_state(&server, &id, &["failed"], Duration::from_secs(60));
    let reason = failed["reason"].as_str().unwrap_or_default();
    let says = format!("could not connect to http://viewer:***@127.0.0.1:{port}/live/index.m3u8: connection refused");
    assert!(reason.starts_with(&says), "{failed}");
    assert!(!reason.contains("data stream"), "GStreamer's words: {failed}");
    let (_, video) = get(&server.url(&format!("/api/videos/{id}")));
    assert_eq!(video["status"], "failed", "{video}");
    assert!(video["error"].as_str().is_some_and(|e| e.starts_with(&says)), "{video}");
    assert!(!server.log().contains("s3cret"), "the password is logged");
    println!("HLS on a closed port: {reason}");
}
