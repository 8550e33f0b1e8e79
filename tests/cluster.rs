//! Two-node clusters of real processes on loopback: a `sightline serve` coordinator and
//! `sightline worker` nodes joining it. Jobs use both nodes; a worker killed, frozen or joining
//! mid-job loses no frame and counts none twice; a node frozen too long is dropped and joins again
//! when it wakes, as it does when its coordinator restarts; wrong cookies, models, TLS settings and
//! missing or foreign client certificates are refused. A live source detects on worker nodes too,
//! and goes on when one is lost.
//!
//! The tests run one at a time: each runs two or three processes that share this machine's cores.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::camera::Camera;
use common::server::{curl_raw, free_port, get, wait_for_text, Server};
use common::{media, model, run, sightline};
use serde_json::{json, Value};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
const BIKES_FRAMES: u64 = 250;
const JOB_TIMEOUT: Duration = Duration::from_secs(300);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A coordinator with one local detector worker, so a remote one visibly adds capacity.
fn coordinator(data: &Path, env: &[(&str, &str)]) -> Server {
    let mut all = vec![("SIGHTLINE_WORKERS", "1")];
    all.extend_from_slice(env);
    Server::start(data, &all)
}

struct Worker {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Worker {
    /// `sightline worker` joining `server` with its cookie file, one detector, and `extra` flags.
    fn start(server: &Server, name: &str, extra: &[&str]) -> Worker {
        let log = server.data.join(format!("{name}.log"));
        let mut cmd = sightline();
        cmd.args(["worker", "--join", &server.cluster, "--name", name, "--workers", "1"])
            .env("SIGHTLINE_LOG", "info")
            .env_remove("SIGHTLINE_CLUSTER_COOKIE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("worker log"));
        if !extra.iter().any(|a| a.starts_with("--cookie")) {
            cmd.arg("--cookie-file").arg(server.data.join("cluster.cookie"));
        }
        cmd.args(extra);
        Worker {
            child: cmd.spawn().expect("worker starts"),
            log,
            name: name.to_string(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the worker's log says `text`.
    fn wait_log(&self, text: &str, timeout: Duration) {
        wait_for_text(&format!("worker {}", self.name), || self.log(), text, timeout);
    }

    fn signal(&self, signal: &str) {
        let sent = run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string()));
        assert!(sent.status.success(), "kill -{signal} failed");
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "worker {} still runs:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A stopped process must be continued to die cleanly under SIGKILL's reaper too.
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster(server: &Server) -> Value {
    let (code, v) = get(&server.url("/api/cluster"));
    assert_eq!(code, 200, "{v}");
    v
}

/// The latest node called `name` (a name may come back in a new session).
fn node(view: &Value, name: &str) -> Option<Value> {
    view["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .rev()
        .find(|n| n["name"] == name)
        .cloned()
}

fn wait_node(server: &Server, name: &str, state: &str, timeout: Duration) -> Value {
    let started = Instant::now();
    loop {
        let view = cluster(server);
        if let Some(n) = node(&view, name).filter(|n| n["state"] == state) {
            return n;
        }
        assert!(
            started.elapsed() < timeout,
            "node {name} not {state} after {timeout:?}: {view}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Frames credited per node name.
fn frames_by_node(server: &Server) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for n in cluster(server)["nodes"].as_array().expect("nodes") {
        *out.entry(n["name"].as_str().unwrap_or_default().to_string())
            .or_default() += n["frames"].as_u64().unwrap_or(0);
    }
    out
}

fn upload_bikes(server: &Server) -> String {
    let (code, v) = server.upload(&media("bikes.mp4"), &[]);
    assert_eq!(code, 202, "{v}");
    v["id"].as_str().expect("id").to_string()
}

fn video(server: &Server, id: &str) -> Value {
    get(&server.url(&format!("/api/videos/{id}"))).1
}

/// Waits until `id` is processing and `name`'s workers have detected at least `frames` frames;
/// fails if the job finished first (the test would then prove nothing about "mid-job").
fn wait_mid_job(server: &Server, id: &str, name: &str, frames: u64) {
    let started = Instant::now();
    loop {
        let done = frames_by_node(server).get(name).copied().unwrap_or(0);
        let v = video(server, id);
        assert_ne!(
            v["status"], "ready",
            "the job finished before the test could act mid-job: {v}"
        );
        if v["status"] == "processing" && done >= frames {
            return;
        }
        assert!(started.elapsed() < JOB_TIMEOUT, "no progress on {name}: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A coordinator and a worker node "w1" working on bikes.mp4, w1 having detected 10 frames of it.
fn job_under_way_with_w1(data: &Path, env: &[(&str, &str)]) -> (Server, Worker, String) {
    let server = coordinator(data, env);
    let worker = Worker::start(&server, "w1", &[]);
    wait_node(&server, "w1", "up", Duration::from_secs(60));
    let id = upload_bikes(&server);
    wait_mid_job(&server, &id, "w1", 10);
    (server, worker, id)
}

/// The job (the server's only one) ends ready, worker node `name` detected some of its frames,
/// and every frame was credited once.
fn assert_shared_with(server: &Server, id: &str, name: &str) {
    let v = server.wait_status(id, &["ready", "failed"], JOB_TIMEOUT);
    assert_eq!(v["status"], "ready", "{v}\n{}", server.log());
    let frames = frames_by_node(server);
    assert!(frames[name] > 0, "node {name} got no frame: {frames:?}");
    assert_eq!(frames.values().sum::<u64>(), BIKES_FRAMES);
}

/// Every stored detection of a video (JSON Lines export), as text lines.
fn detections(server: &Server, id: &str) -> Vec<String> {
    let (code, body) = curl_raw("GET", &server.url(&format!("/api/videos/{id}/detections.jsonl")), &[]);
    assert_eq!(code, 200);
    String::from_utf8(body)
        .expect("utf-8")
        .lines()
        .map(String::from)
        .collect()
}

/// The job's frames were all detected, each exactly once, and stored as a single-node run stores them.
fn assert_exactly_once(server: &Server, id: &str, reference: &[String], frames_before: u64) {
    let v = server.wait_status(id, &["ready", "failed"], JOB_TIMEOUT);
    assert_eq!(v["status"], "ready", "{v}\n{}", server.log());
    assert_eq!(v["frames_done"].as_u64(), Some(BIKES_FRAMES), "{v}");
    let credited: u64 = frames_by_node(server).values().sum();
    assert_eq!(credited - frames_before, BIKES_FRAMES, "frames credited to workers");
    let got = detections(server, id);
    assert!(!got.is_empty());
    assert!(got == reference, "stored detections differ from the single-node run");
}

#[test]
fn a_job_uses_both_nodes_and_stores_what_a_single_node_stores() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let server = coordinator(dir.path(), &[]);
    let alone = upload_bikes(&server);
    server.wait_status(&alone, &["ready"], JOB_TIMEOUT);
    let reference = detections(&server, &alone);
    let before = frames_by_node(&server);
    assert_eq!(before.values().sum::<u64>(), BIKES_FRAMES);

    let worker = Worker::start(&server, "w1", &[]);
    let joined = wait_node(&server, "w1", "up", Duration::from_secs(60));
    assert!(joined["last_heartbeat_ms_ago"].as_u64().is_some(), "{joined}");
    let shared = upload_bikes(&server);
    assert_exactly_once(&server, &shared, &reference, BIKES_FRAMES);
    let after = frames_by_node(&server);
    assert!(after["coordinator"] > before["coordinator"], "{after:?}");
    assert!(after["w1"] > 0, "{after:?}");
    let view = cluster(&server);
    let w1 = node(&view, "w1").expect("w1");
    assert_eq!(w1["workers"].as_array().map(Vec::len), Some(1), "{w1}");
    assert!(w1["workers"][0]["mean_latency_ms"].as_f64().is_some(), "{w1}");
    assert_eq!(view["nodes_up"], 2);
    server.wait_log("node w1 (127.0.0.1:", Duration::from_secs(10));
    drop(worker);
}

#[test]
fn a_worker_killed_mid_job_loses_no_frame() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let (server, worker, id) = job_under_way_with_w1(dir.path(), &[]);
    worker.signal("KILL");
    let lost = wait_node(&server, "w1", "lost", Duration::from_secs(10));
    assert!(lost["reason"].as_str().unwrap_or_default().contains("closed"), "{lost}");

    let v = server.wait_status(&id, &["ready", "failed"], JOB_TIMEOUT);
    assert_eq!(v["status"], "ready", "{v}");
    // The reference: the same video on the coordinator alone, after the worker is gone.
    let alone = upload_bikes(&server);
    server.wait_status(&alone, &["ready"], JOB_TIMEOUT);
    let reference = detections(&server, &alone);
    assert_exactly_once(&server, &id, &reference, BIKES_FRAMES);
    server.wait_log("node w1 (127.0.0.1:", Duration::from_secs(10));
    server.wait_log("lost", Duration::from_secs(10));
}

#[test]
fn a_worker_interrupted_mid_job_drains_and_leaves() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let (server, mut worker, id) = job_under_way_with_w1(dir.path(), &[]);
    worker.signal("INT");
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "Ctrl-C is a clean exit: {status}\n{}", worker.log());
    assert!(worker.log().contains("left the cluster"), "{}", worker.log());
    let left = wait_node(&server, "w1", "left", Duration::from_secs(10));
    assert_eq!(left["errors"], 0, "every request it held was answered: {left}");
    let v = server.wait_status(&id, &["ready", "failed"], JOB_TIMEOUT);
    assert_eq!(v["status"], "ready", "{v}");
    let credited: u64 = frames_by_node(&server).values().sum();
    assert_eq!(credited, BIKES_FRAMES, "each frame credited once");
}

#[test]
fn a_frozen_worker_is_suspected_its_frames_resent_and_it_comes_back() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    // Suspect, not dropped, for as long as the job runs, however slow this machine is.
    let (server, worker, id) = job_under_way_with_w1(dir.path(), &[("SIGHTLINE_CLUSTER_DROP_AFTER_S", "600")]);
    worker.signal("STOP");
    let stopped = Instant::now();
    let suspect = wait_node(&server, "w1", "suspect", Duration::from_secs(10));
    // 3 heartbeat intervals of 500 ms, plus the watchdog's tick and this machine's noise.
    assert!(
        stopped.elapsed() < Duration::from_secs(6),
        "suspected after {:?}",
        stopped.elapsed()
    );
    assert!(
        suspect["reason"].as_str().unwrap_or_default().contains("heartbeat"),
        "{suspect}"
    );

    let v = server.wait_status(&id, &["ready", "failed"], JOB_TIMEOUT);
    assert_eq!(v["status"], "ready", "{v}\n{}", server.log());
    assert_eq!(v["frames_done"].as_u64(), Some(BIKES_FRAMES));
    // The job finished while the worker was frozen: nothing waited for it.
    assert_eq!(node(&cluster(&server), "w1").expect("w1")["state"], "suspect");
    let credited: u64 = frames_by_node(&server).values().sum();
    assert_eq!(credited, BIKES_FRAMES, "each frame credited once");

    worker.signal("CONT");
    wait_node(&server, "w1", "up", Duration::from_secs(10));
    server.wait_log("answers heartbeats again", Duration::from_secs(10));
    // Back up, it takes frames again, and the frames it answered late were not counted twice.
    let again = upload_bikes(&server);
    let before = frames_by_node(&server)["w1"];
    server.wait_status(&again, &["ready"], JOB_TIMEOUT);
    let after = frames_by_node(&server);
    assert!(after["w1"] > before, "{after:?}");
    assert_eq!(after.values().sum::<u64>(), 2 * BIKES_FRAMES);
}

#[test]
fn a_worker_frozen_past_the_drop_deadline_is_disconnected_and_joins_again() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let fast = [
        ("SIGHTLINE_CLUSTER_HEARTBEAT_MS", "200"),
        ("SIGHTLINE_CLUSTER_DROP_AFTER_S", "5"),
    ];
    let server = coordinator(dir.path(), &fast);
    // A connection that never authenticates is dropped too (after 10 s, the least time to join).
    let mut silent = std::net::TcpStream::connect(&server.cluster).expect("connect");
    let worker = Worker::start(&server, "w1", &[]);
    wait_node(&server, "w1", "up", Duration::from_secs(60));
    worker.signal("STOP");
    let dropped = wait_node(&server, "w1", "lost", Duration::from_secs(30));
    let reason = dropped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no heartbeat") && reason.contains("disconnected"),
        "{dropped}"
    );
    server.wait_log("dropped", Duration::from_secs(10));

    worker.signal("CONT");
    // A new session under the same name, with its detectors (kept loaded) used by the next job.
    wait_node(&server, "w1", "up", Duration::from_secs(30));
    worker.wait_log("again as w1", Duration::from_secs(10));
    assert_shared_with(&server, &upload_bikes(&server), "w1");

    silent.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut silent, &mut byte);
    let closed = match &read {
        Ok(0) => true,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
        Ok(_) => false,
    };
    assert!(closed, "the silent connection is still open: {read:?}");
    let view = cluster(&server);
    let refused = view["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .any(|n| n["state"] == "refused" && n["reason"].as_str().unwrap_or_default().contains("did not join"));
    assert!(refused, "{view}");
}

#[test]
fn a_worker_rejoins_a_restarted_coordinator() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let mut server = coordinator(dir.path(), &[]);
    let mut worker = Worker::start(&server, "w1", &[]);
    wait_node(&server, "w1", "up", Duration::from_secs(60));
    let cluster_addr = server.cluster.clone();
    server.kill();
    // The worker outlives its coordinator and keeps trying.
    worker.wait_log("reconnecting", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    assert!(worker.child.try_wait().expect("try_wait").is_none(), "{}", worker.log());

    // Same data folder (so the same cookie) and cluster address: the worker is back without help.
    let server = Server::start_with_cluster(dir.path(), &cluster_addr, &[("SIGHTLINE_WORKERS", "1")]);
    wait_node(&server, "w1", "up", Duration::from_secs(60));
    assert_shared_with(&server, &upload_bikes(&server), "w1");

    // And it still leaves cleanly.
    worker.signal("INT");
    assert!(worker.wait_exit(Duration::from_secs(30)).success(), "{}", worker.log());
}

#[test]
fn a_coordinator_without_local_workers_detects_on_worker_nodes() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(dir.path(), &[("SIGHTLINE_WORKERS", "0")]);
    let (code, ready) = get(&server.url("/readyz"));
    assert_eq!((code, ready["workers"].as_u64()), (503, Some(0)), "{ready}");

    let _worker = Worker::start(&server, "w1", &[]);
    let started = Instant::now();
    while get(&server.url("/readyz")).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ready with a worker node"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_shared_with(&server, &upload_bikes(&server), "w1");
    assert_eq!(
        frames_by_node(&server)["w1"],
        BIKES_FRAMES,
        "every frame detected on the node"
    );
}

#[test]
fn a_worker_joining_mid_job_gets_frames_of_that_job() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let server = coordinator(dir.path(), &[]);
    let id = upload_bikes(&server);
    wait_mid_job(&server, &id, "coordinator", 10);
    let _worker = Worker::start(&server, "late", &[]);
    wait_node(&server, "late", "up", Duration::from_secs(60));
    assert_shared_with(&server, &id, "late");
}

/// Live source `id` as `GET /api/live/{id}` shows it.
fn live_source(server: &Server, id: &str) -> Value {
    let (code, v) = get(&server.url(&format!("/api/live/{id}")));
    assert_eq!(code, 200, "{v}");
    v
}

#[test]
fn a_live_source_detects_on_worker_nodes_and_goes_on_when_one_is_lost() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    // bikes.mp4 at its own 25 fps, every frame due for detection, one detector thread per node.
    let camera = Camera::serving(free_port(), &media("bikes.mp4"), 30);
    let server = coordinator(dir.path(), &[("SIGHTLINE_THREADS", "1"), ("SIGHTLINE_EVERY", "1")]);
    let worker = Worker::start(&server, "w1", &[]);
    wait_node(&server, "w1", "up", Duration::from_secs(60));
    let (code, added) = server.send_json("POST", "/api/live", &json!({ "url": camera.url }));
    assert_eq!(code, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_string();

    // The worker node detects frames of the source.
    let started = Instant::now();
    while frames_by_node(&server).get("w1").copied().unwrap_or(0) < 50 {
        let v = live_source(&server, &id);
        assert!(
            started.elapsed() < JOB_TIMEOUT,
            "w1 detected no frame of the live source: {v}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = live_source(&server, &id);
    assert_eq!(before["state"], "live", "{before}");

    // Lost mid-stream: the source stays live on the coordinator's worker alone.
    worker.signal("KILL");
    wait_node(&server, "w1", "lost", Duration::from_secs(10));
    let lost_at = frames_by_node(&server);
    let watched = Instant::now();
    let mut latencies = Vec::new();
    while watched.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(1));
        let v = live_source(&server, &id);
        assert_eq!(v["state"], "live", "{v}\n{}", server.log());
        latencies.push(v["latency_ms"].as_u64().unwrap_or(0));
    }
    let after = live_source(&server, &id);
    let now = frames_by_node(&server);
    let detected = now["coordinator"] - lost_at["coordinator"];
    println!(
        "live source across nodes: before the loss {} fps in, {} fps processed, {} detections tracked only; \
         20 s after: {detected} frames detected on the coordinator, {} detections tracked only, \
         latency every second (ms): {latencies:?}",
        before["input_fps"], before["processed_fps"], before["dropped_detections"], after["dropped_detections"]
    );
    assert!(detected > 0, "the coordinator detected nothing after the loss");
    assert_eq!(now.get("w1"), lost_at.get("w1"), "a lost node was credited");
    // Latency: within one segment (2 s) + 2 s once detection has caught up.
    let latency = after["latency_ms"].as_u64().expect("latency");
    assert!(latency <= 4000, "{after}");
    let (code, stopped) = server.send_json("DELETE", &format!("/api/live/{id}"), &json!({}));
    assert_eq!(code, 200, "{stopped}");
    server.wait_log("lost", Duration::from_secs(10));
}

#[test]
fn a_wrong_cookie_or_another_model_is_refused_on_both_sides() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let server = coordinator(dir.path(), &[]);

    let mut impostor = Worker::start(&server, "impostor", &["--cookie", "not-the-cluster-cookie"]);
    let status = impostor.wait_exit(Duration::from_secs(30));
    assert!(!status.success());
    assert!(impostor.log().contains("authentication failed"), "{}", impostor.log());
    let view = cluster(&server);
    let refused: Vec<&Value> = view["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["state"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{view}");
    assert!(
        refused[0]["reason"].as_str().unwrap_or_default().contains("cookie"),
        "{view}"
    );
    assert_eq!(refused[0]["workers"].as_array().map(Vec::len), Some(0));
    server.wait_log("failed authentication", Duration::from_secs(10));

    let other_model = model("yolov4-tiny-v8.onnx");
    let mut mismatched = Worker::start(
        &server,
        "other-model",
        &["--model", other_model.to_str().expect("path")],
    );
    let status = mismatched.wait_exit(Duration::from_secs(30));
    assert!(!status.success());
    assert!(mismatched.log().contains("model mismatch"), "{}", mismatched.log());
    let n = node(&cluster(&server), "other-model").expect("listed");
    assert_eq!(n["state"], "refused", "{n}");
    assert!(n["reason"].as_str().unwrap_or_default().contains("sha256"), "{n}");
    assert_eq!(
        n["workers"].as_array().map(Vec::len),
        Some(0),
        "no detector of it is used: {n}"
    );
    server.wait_log("node other-model", Duration::from_secs(10));
    assert_eq!(cluster(&server)["workers_available"], 1);

    let (code, metrics) = curl_raw("GET", &server.url("/metrics"), &[]);
    assert_eq!(code, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("sightline_cluster_events_total{event=\"auth_failed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sightline_cluster_events_total{event=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sightline_cluster_nodes{state=\"refused\"} 2"),
        "{metrics}"
    );
}

#[test]
fn tls_links_carry_jobs_and_plain_workers_are_refused() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let test_ca = TestCa::new(dir.path(), "sightline test CA");
    let (ca, (cert, key)) = (&test_ca.cert, test_ca.issue("coordinator"));
    let server = coordinator(
        &dir.path().join("data"),
        &[
            ("SIGHTLINE_CLUSTER_TLS_CERT", cert.to_str().expect("path")),
            ("SIGHTLINE_CLUSTER_TLS_KEY", key.to_str().expect("path")),
        ],
    );
    assert_eq!(cluster(&server)["tls"], true);
    // A peer that connects and says nothing holds up no one (its handshake has a deadline of
    // its own, and runs beside the others).
    let _silent = std::net::TcpStream::connect(&server.cluster).expect("connect");
    let mut plain = Worker::start(&server, "plain", &[]);
    assert!(!plain.wait_exit(Duration::from_secs(30)).success());
    assert!(plain.log().contains("expects TLS"), "{}", plain.log());
    let mut untrusting = Worker::start(&server, "untrusting", &["--tls-ca", cert.to_str().expect("path")]);
    assert!(!untrusting.wait_exit(Duration::from_secs(30)).success());
    assert!(
        untrusting.log().contains("TLS handshake failed"),
        "{}",
        untrusting.log()
    );
    server.wait_log("TLS handshake failed", Duration::from_secs(10));
    let _secure = Worker::start(&server, "secure", &["--tls-ca", ca.to_str().expect("path")]);
    wait_node(&server, "secure", "up", Duration::from_secs(60));
    assert_shared_with(&server, &upload_bikes(&server), "secure");
}

#[test]
fn client_certificates_are_required_when_configured() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new(dir.path(), "cluster CA");
    let (cert, key) = ca.issue("coordinator");
    let (worker_cert, worker_key) = ca.issue("worker");
    let stranger_ca = TestCa::new(&dir.path().join("elsewhere"), "another CA");
    let (stranger_cert, stranger_key) = stranger_ca.issue("stranger");
    let path = |p: &Path| p.to_str().expect("path").to_string();
    let (ca_pem, cert, key) = (path(&ca.cert), path(&cert), path(&key));
    let server = coordinator(
        &dir.path().join("data"),
        &[
            ("SIGHTLINE_CLUSTER_TLS_CERT", &cert),
            ("SIGHTLINE_CLUSTER_TLS_KEY", &key),
            ("SIGHTLINE_CLUSTER_TLS_CLIENT_CA", &ca_pem),
        ],
    );
    let (stranger_cert, stranger_key) = (path(&stranger_cert), path(&stranger_key));
    let anonymous = ["--tls-ca", &ca_pem];
    let stranger = [
        "--tls-ca",
        &ca_pem,
        "--tls-cert",
        &stranger_cert,
        "--tls-key",
        &stranger_key,
    ];
    for (name, flags) in [("anonymous", &anonymous[..]), ("stranger", &stranger[..])] {
        let mut refused = Worker::start(&server, name, flags);
        assert!(
            !refused.wait_exit(Duration::from_secs(30)).success(),
            "{name} was let in"
        );
        assert!(
            node(&cluster(&server), name).is_none(),
            "{name} reached the node server"
        );
        assert!(refused.log().contains("client certificate"), "{}", refused.log());
    }
    server.wait_log("TLS handshake failed", Duration::from_secs(10));

    let (worker_cert, worker_key) = (path(&worker_cert), path(&worker_key));
    let known = [
        "--tls-ca",
        &ca_pem,
        "--tls-cert",
        &worker_cert,
        "--tls-key",
        &worker_key,
    ];
    let _known = Worker::start(&server, "known", &known);
    wait_node(&server, "known", "up", Duration::from_secs(60));
}

/// A test CA made with openssl, issuing certificates for the tests' TLS links.
struct TestCa {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TestCa {
    const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

    fn new(dir: &Path, name: &str) -> TestCa {
        std::fs::create_dir_all(dir).expect("CA dir");
        let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        openssl(
            Command::new("openssl")
                .args(["req", "-x509", "-days", "2", "-subj", &format!("/CN={name}")])
                .args(Self::EC)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        TestCa {
            dir: dir.to_path_buf(),
            cert,
            key,
        }
    }

    /// A certificate for localhost and 127.0.0.1, signed by this CA: (certificate, key).
    fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let file = |ext: &str| self.dir.join(format!("{name}.{ext}"));
        let (cert, key, csr, ext) = (file("pem"), file("key"), file("csr"), file("ext"));
        std::fs::write(&ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("ext file");
        openssl(
            Command::new("openssl")
                .args(["req", "-subj", "/CN=localhost"])
                .args(Self::EC)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        );
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&cert),
        );
        (cert, key)
    }
}

fn openssl(cmd: &mut Command) {
    let made = run(cmd);
    assert!(
        made.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}
