//! Webhooks against real HTTP receivers on this machine: events of a job's rules are queued as
//! the job raises them, and arrive signed, at least once, retried after failures, and those still
//! owed when the server stops arrive after it starts again; a receiver that never answers delays
//! only its own webhook; a job retried after a kill -9 sends no event twice and none under a new
//! id; targets on loopback and private networks are refused unless allowed, before creation and
//! before each delivery; redirects are not followed; a URL's password is never shown.
//!
//! Every receiver here is on loopback, allowed with `webhook_allow_networks`; the refused targets
//! (169.254.169.254, 10.0.0.1) are refused before anything connects, so no test sends a byte
//! beyond this machine. The tests take turns: each runs jobs that want both cores.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::server::{curl, get, Server};
use common::{media, run};
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

const READY: &[&str] = &["ready", "failed", "interrupted"];
const SECRET: &str = "webhook-test-secret-0123";
/// The receivers here are on loopback, which the server refuses by default. (`localhost` may
/// resolve to ::1 as well.)
const ALLOW_LOOPBACK: (&str, &str) = ("SIGHTLINE_WEBHOOK_ALLOW_NETWORKS", "[\"127.0.0.0/8\", \"::1\"]");

/// One test at a time: each runs jobs that want both cores, and one measures delays.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    signature: String,
    timestamp: String,
    authorization: String,
    body: String,
    answered: u16,
    /// Unix ms when it had read the request.
    at_ms: u64,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// How a receiver answers its `n`th request (from 1).
#[derive(Clone)]
enum Reply {
    /// 500 to the first ones, 200 after.
    FailFirst(usize),
    /// 301 to this address, every time.
    RedirectTo(String),
}

/// A plain HTTP/1.1 receiver.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicUsize>,
}

impl Receiver {
    /// Answers 500 to its first `fail_first` requests, 200 after.
    fn start(addr: &str, fail_first: usize) -> Receiver {
        Receiver::answering(addr, Reply::FailFirst(fail_first))
    }

    fn answering(addr: &str, reply: Reply) -> Receiver {
        let listener = TcpListener::bind(addr).expect("bind the receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicUsize::new(0));
        let (log, halt) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut count = 0;
            while halt.load(Ordering::SeqCst) == 0 {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).expect("blocking");
                let mut reader = BufReader::new(stream);
                let mut headers = BTreeMap::new();
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                count += 1;
                let (answered, extra) = match &reply {
                    Reply::FailFirst(n) if count <= *n => (500, String::new()),
                    Reply::FailFirst(_) => (200, String::new()),
                    Reply::RedirectTo(to) => (301, format!("location: {to}\r\n")),
                };
                let header = |k: &str| headers.get(k).cloned().unwrap_or_default();
                log.lock().expect("log").push(Received {
                    delivery: header("x-sightline-delivery"),
                    signature: header("x-sightline-signature"),
                    timestamp: header("x-sightline-timestamp"),
                    authorization: header("authorization"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered,
                    at_ms: now_ms(),
                });
                let reply = format!("HTTP/1.1 {answered} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n");
                let _ = reader.get_mut().write_all(reply.as_bytes());
            }
        });
        Receiver { addr, seen, stop }
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().expect("log").clone()
    }

    /// What it answered 200.
    fn accepted(&self) -> Vec<Received> {
        self.seen().into_iter().filter(|r| r.answered == 200).collect()
    }

    /// Delivery ids it answered 200.
    fn delivered(&self) -> BTreeSet<String> {
        self.accepted().into_iter().map(|r| r.delivery).collect()
    }

    fn wait_delivered(&self, n: usize, server: &Server, timeout: Duration) {
        let started = Instant::now();
        while self.delivered().len() < n {
            assert!(
                started.elapsed() < timeout,
                "{} of {n} delivered: {:?}\n{}",
                self.delivered().len(),
                self.seen(),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::SeqCst);
        // Its thread sees the flag within a poll and lets go of the port.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A receiver that takes every connection and never answers, holding them open until dropped.
struct BlackHole {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicUsize>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the black hole");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicUsize::new(0));
        let (count, halt) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while halt.load(Ordering::SeqCst) == 0 {
                match listener.accept() {
                    Ok((stream, _)) => {
                        held.push(stream);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        BlackHole {
            addr,
            connections,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::SeqCst);
    }
}

fn signed(body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A line down the middle of the picture: people in bikes.mp4 cross it.
fn middle_line() -> String {
    let rules = json!({"lines": [{"name": "middle", "from": {"x": 0.5, "y": 0.0}, "to": {"x": 0.5, "y": 1.0}}]});
    format!("rules={rules}")
}

/// The events of a video's rules, once they are worked out (just after its job ends).
fn crossings(server: &Server, id: &str) -> usize {
    let started = Instant::now();
    loop {
        let (_, rules) = get(&server.url(&format!("/api/videos/{id}/rules")));
        if rules["analysed_at"].is_u64() {
            return rules["events"].as_u64().expect("events") as usize;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "rules never analysed: {rules}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The middle line and a zone over the left half, which riders enter and leave: more events.
fn line_and_zone() -> String {
    let rules = json!({
        "lines": [{"name": "middle", "from": {"x": 0.5, "y": 0.0}, "to": {"x": 0.5, "y": 1.0}}],
        "zones": [{"name": "left half", "polygon": [
            {"x": 0.0, "y": 0.0}, {"x": 0.5, "y": 0.0}, {"x": 0.5, "y": 1.0}, {"x": 0.0, "y": 1.0}]}],
    });
    format!("rules={rules}")
}

/// Uploads bikes.mp4 with the middle line and waits for it: its id and its events.
fn process_bikes(server: &Server) -> (String, usize) {
    process_bikes_with(server, &middle_line())
}

fn process_bikes_with(server: &Server, rules: &str) -> (String, usize) {
    let (code, accepted) = server.upload(&media("bikes.mp4"), &[rules]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(
        server.wait_status(&id, READY, Duration::from_secs(300))["status"],
        "ready"
    );
    let n = crossings(server, &id);
    assert!(n >= 1, "no crossing to send");
    (id, n)
}

fn create_webhook(server: &Server, url: &str) -> u64 {
    let (code, hook) = server.send_json("POST", "/api/webhooks", &json!({"url": url, "secret": SECRET}));
    assert_eq!(code, 201, "{hook}");
    hook["id"].as_u64().expect("id")
}

fn deliveries(server: &Server, hook: u64) -> Vec<Value> {
    let (code, log) = get(&server.url(&format!("/api/webhooks/{hook}/deliveries?limit=1000")));
    assert_eq!(code, 200, "{log}");
    log.as_array().expect("deliveries").clone()
}

/// Waits until `done` holds for a webhook's log; returns the log.
fn wait_log(server: &Server, hook: u64, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let log = deliveries(server, hook);
        if done(&log) {
            return log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {log:?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn events_reach_a_receiver_signed_retried_and_across_a_restart() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start("127.0.0.1:0", 2);
    let url = format!("http://{}/hook", receiver.addr);
    let mut server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);

    // What is refused, and why.
    for (body, why) in [
        (
            json!({"url": "ftp://example.org/x", "secret": SECRET}),
            "http:// or https://",
        ),
        (json!({"url": "not a url", "secret": SECRET}), "url 'not a url'"),
        (json!({"url": url, "secret": "short"}), "secret"),
        (
            json!({"url": url, "secret": SECRET, "video": "00000000000000ff"}),
            "no video",
        ),
    ] {
        let (code, answer) = server.send_json("POST", "/api/webhooks", &body);
        assert_eq!(code, 400, "{why}: {answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(why),
            "{why}: {answer}"
        );
    }
    let wanted = json!({"url": url, "secret": SECRET, "kinds": ["line_crossed"]});
    let (code, hook) = server.send_json("POST", "/api/webhooks", &wanted);
    assert_eq!(code, 201, "{hook}");
    assert!(hook.get("secret").is_none(), "the secret was shown back: {hook}");
    let hook_id = hook["id"].as_u64().expect("id");

    let (id, n) = process_bikes(&server);

    // Every event arrives, signed; the two refused attempts are tried again, nothing else twice.
    receiver.wait_delivered(n, &server, Duration::from_secs(60));
    let seen = receiver.seen();
    assert_eq!(seen.len(), n + 2, "{seen:?}");
    for r in &seen {
        assert_eq!(r.signature, signed(&r.body), "a bad signature: {r:?}");
        assert!(r.timestamp.parse::<u64>().is_ok(), "{r:?}");
        let body = r.json();
        assert_eq!(
            (body["delivery"].as_str(), body["video"].as_str()),
            (Some(r.delivery.as_str()), Some(id.as_str()))
        );
        assert_eq!(body["event"]["kind"], "line_crossed", "{body}");
    }
    let log = deliveries(&server, hook_id);
    assert_eq!(log.len(), n);
    assert!(log.iter().all(|d| d["state"] == "delivered"), "{log:?}");
    // The log's ids are the ones sent.
    let logged: BTreeSet<String> = log.iter().map(|d| d["id"].to_string()).collect();
    assert_eq!(logged, receiver.delivered());
    // Queued as the job raised them, before it ended.
    let (_, video) = get(&server.url(&format!("/api/videos/{id}")));
    let ready_at = video["updated_at"].as_u64().expect("updated_at");
    let first = log
        .iter()
        .filter_map(|d| d["created_at"].as_u64())
        .min()
        .expect("created_at");
    println!(
        "first event queued {} ms before the video was ready",
        ready_at.saturating_sub(first)
    );
    assert!(first < ready_at, "queued at {first}, ready at {ready_at}");
    let retried: Vec<&Value> = log
        .iter()
        .filter(|d| d["attempts"].as_array().map_or(0, Vec::len) > 1)
        .collect();
    assert!(
        !retried.is_empty() && retried.iter().all(|d| d["attempts"][0]["status"] == 500),
        "{log:?}"
    );

    // The receiver goes away; a second job's events wait in the outbox; the server stops.
    let port = receiver.addr;
    drop(receiver);
    let (second, owed) = process_bikes(&server);
    wait_log(&server, hook_id, "the second job's deliveries failing", |log| {
        let failing = log
            .iter()
            .filter(|d| {
                d["video"] == second.as_str() && d["state"] == "pending" && d["attempts"][0]["error"].is_string()
            })
            .count();
        failing == owed
    });
    server.kill();

    // Back up, both of them: what was owed arrives.
    let receiver = Receiver::start(&port.to_string(), 0);
    let server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);
    receiver.wait_delivered(owed, &server, Duration::from_secs(60));
    assert!(
        receiver.seen().iter().all(|r| r.body.contains(&second)),
        "{:?}",
        receiver.seen()
    );
    let (_, metrics) = common::server::curl_raw("GET", &server.url("/metrics"), &[]);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("sightline_webhook_deliveries_total{outcome=\"delivered\"}"),
        "{metrics}"
    );

    // At most 100 webhooks: the 101st is refused with the reason.
    for i in 1..100 {
        create_webhook(&server, &format!("{url}/{i}"));
    }
    let (code, refused) = server.send_json("POST", "/api/webhooks", &json!({"url": url, "secret": SECRET}));
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 100 webhooks"),
        "{refused}"
    );

    // Deleted: nothing more is sent to it.
    let (code, _) = curl("DELETE", &server.url(&format!("/api/webhooks/{hook_id}")), &[]);
    assert_eq!(code, 204);
    let (code, _) = get(&server.url(&format!("/api/webhooks/{hook_id}/deliveries")));
    assert_eq!(code, 404);
}

/// Processes bikes.mp4 and returns, for each event the healthy receiver got, how long after it
/// was queued (stored, then queued at once) it arrived, in ms.
fn healthy_delays(server: &Server, receiver: &Receiver, hook: u64) -> Vec<u64> {
    let (video, n) = process_bikes_with(server, &line_and_zone());
    let started = Instant::now();
    let mine = || -> Vec<Received> {
        receiver
            .accepted()
            .into_iter()
            .filter(|r| r.body.contains(&video))
            .collect()
    };
    while mine().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of {n} arrived\n{}",
            mine().len(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let queued: BTreeMap<String, u64> = deliveries(server, hook)
        .iter()
        .filter(|d| d["video"] == video.as_str())
        .map(|d| (d["id"].to_string(), d["created_at"].as_u64().expect("created_at")))
        .collect();
    mine()
        .iter()
        .map(|r| {
            let at = queued.get(&r.delivery).expect("a logged delivery");
            r.at_ms.saturating_sub(*at)
        })
        .collect()
}

#[test]
fn a_receiver_that_never_answers_delays_only_its_own_webhooks() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let healthy = Receiver::start("127.0.0.1:0", 0);
    let hole = BlackHole::start();
    let server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);
    let hook = create_webhook(&server, &format!("http://{}/healthy", healthy.addr));

    // Alone first, for comparison.
    let alone = healthy_delays(&server, &healthy, hook);

    // Four webhooks to a receiver that takes the connection and never answers (10 s each).
    let stuck: Vec<u64> = (0..4)
        .map(|i| create_webhook(&server, &format!("http://{}/stuck/{i}", hole.addr)))
        .collect();
    let beside = healthy_delays(&server, &healthy, hook);
    let worst = |d: &[u64]| d.iter().copied().max().unwrap_or(0);
    println!(
        "healthy receiver, ms from queued to received: alone {alone:?} (worst {}), beside four stuck \
         webhooks {beside:?} (worst {}); the black hole holds {} connections",
        worst(&alone),
        worst(&beside),
        hole.connections()
    );
    // Each stuck webhook had its request open while the healthy one was served.
    assert!(hole.connections() >= 4, "{} connections", hole.connections());
    for id in &stuck {
        let log = deliveries(&server, *id);
        assert!(
            !log.is_empty() && log.iter().all(|d| d["state"] == "pending"),
            "{log:?}"
        );
    }
    // Well before a stuck receiver's 10 s timeout could have let one through.
    assert!(worst(&beside) < 5_000, "{beside:?}");
}

/// What identifies an event in a body: kind, rule, track, frame.
fn identity(event: &Value) -> (String, String, u64, u64) {
    (
        event["kind"].as_str().unwrap_or_default().to_string(),
        event["rule"].as_str().unwrap_or_default().to_string(),
        event["track_id"].as_u64().unwrap_or(u64::MAX),
        event["frame"].as_u64().unwrap_or(u64::MAX),
    )
}

#[test]
fn a_job_retried_after_a_kill_sends_each_event_once_under_one_id() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start("127.0.0.1:0", 0);
    let mut server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);
    let hook = create_webhook(&server, &format!("http://{}/hook", receiver.addr));

    // tests/analytics_http.rs's line over vtest.avi's left path, and a zone over the left half,
    // which people enter and leave from the first frames on.
    let rules = json!({
        "lines": [{"name": "left path", "from": {"x": 0.25, "y": 0.30}, "to": {"x": 0.25, "y": 0.62}}],
        "zones": [{"name": "left half", "polygon": [
            {"x": 0.0, "y": 0.0}, {"x": 0.5, "y": 0.0}, {"x": 0.5, "y": 1.0}, {"x": 0.0, "y": 1.0}]}],
    });
    let (code, accepted) = server.upload(&media("vtest.avi"), &[&format!("rules={rules}")]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    let killed_at = loop {
        let (_, v) = get(&server.url(&format!("/api/videos/{id}")));
        let progress = v["progress"].as_f64().unwrap_or(0.0);
        if v["status"] == "processing" && progress > 0.3 && !receiver.delivered().is_empty() {
            break progress;
        }
        assert_ne!(v["status"], "ready", "the job ended before it could be killed: {v}");
        assert!(started.elapsed() < Duration::from_secs(300), "{v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // SIGKILL: no chance to clean up.
    let killed = run(Command::new("kill").args(["-9", &server.child.id().to_string()]));
    assert!(killed.status.success());
    server.kill();
    let before = receiver.delivered().len();

    let server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);
    let (_, v) = get(&server.url(&format!("/api/videos/{id}")));
    assert_eq!(v["status"], "interrupted", "{v}");
    let (code, body) = curl("POST", &server.url(&format!("/api/videos/{id}/retry")), &[]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        server.wait_status(&id, READY, Duration::from_secs(600))["status"],
        "ready"
    );
    let stored = crossings(&server, &id);
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, page) = get(&server.url(&format!("/api/videos/{id}/analytics/events?limit=1000{cursor}")));
        assert_eq!(code, 200, "{page}");
        events.extend(page["items"].as_array().expect("items").iter().map(identity));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(events.len(), stored);
    receiver.wait_delivered(stored, &server, Duration::from_secs(120));
    // Whatever was still queued has gone out: nothing pending is left to arrive late.
    wait_log(&server, hook, "every delivery made", |log| {
        log.iter().all(|d| d["state"] == "delivered")
    });

    let accepted = receiver.accepted();
    let mut ids_of: BTreeMap<(String, String, u64, u64), BTreeSet<String>> = BTreeMap::new();
    let mut events_of: BTreeMap<String, BTreeSet<(String, String, u64, u64)>> = BTreeMap::new();
    for r in &accepted {
        let body = r.json();
        assert_eq!(body["delivery"].as_str(), Some(r.delivery.as_str()));
        let event = identity(&body["event"]);
        ids_of.entry(event.clone()).or_default().insert(r.delivery.clone());
        events_of.entry(r.delivery.clone()).or_default().insert(event);
    }
    let repeats = accepted.len() - events_of.len();
    println!(
        "killed at progress {killed_at:.2} with {before} events delivered; {stored} events stored, \
         {} distinct ids received, {repeats} received twice",
        events_of.len()
    );
    assert!(before >= 1 && before < stored, "{before} of {stored} before the kill");
    // The retried job raised the first run's events again, and the outbox refused them.
    assert!(
        server.log().contains("events raised again were not queued again"),
        "{}",
        server.log()
    );
    assert!(
        ids_of.values().all(|ids| ids.len() == 1),
        "an event under two ids: {ids_of:?}"
    );
    assert!(
        events_of.values().all(|e| e.len() == 1),
        "an id for two events: {events_of:?}"
    );
    assert_eq!(events_of.len(), stored, "distinct ids against stored events");
    let received: BTreeSet<_> = ids_of.keys().cloned().collect();
    let stored_events: BTreeSet<_> = events.into_iter().collect();
    assert_eq!(received, stored_events);
    // At least once: only the one request in flight at the kill may have come twice.
    assert!(repeats <= 1, "{repeats} repeats");
    // The log has each event once.
    let log = deliveries(&server, hook);
    let logged: BTreeSet<String> = log.iter().map(|d| d["id"].to_string()).collect();
    assert_eq!((log.len(), logged.len()), (stored, stored));
}

#[test]
fn targets_are_checked_redirects_not_followed_and_passwords_never_shown() {
    let _turn = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start("127.0.0.1:0", 0);
    // Reached by name: the check is then the resolver's, on every delivery.
    let named = Receiver::start("127.0.0.1:0", 0);
    let by_name = format!("http://localhost:{}/named", named.addr.port());
    let elsewhere = Receiver::start("127.0.0.1:0", 0);
    let redirecting = Receiver::answering(
        "127.0.0.1:0",
        Reply::RedirectTo(format!("http://{}/elsewhere", elsewhere.addr)),
    );
    let password = "s3cret-pass";
    let with_password = format!("http://user:{password}@{}/hook", receiver.addr);

    // By default: loopback, private, link-local and unspecified targets are refused, saying why
    // and what allows them. Nothing connects to them: the check is on the address.
    let mut server = Server::start(dir.path(), &[]);
    for (url, why) in [
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254 is a link-local address",
        ),
        ("http://10.0.0.1/hook".into(), "10.0.0.1 is a private address"),
        (with_password.clone(), "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]:9/x".into(), "is a loopback address"),
        ("http://localhost:9/x".into(), "is a loopback address"),
        ("http://0.0.0.0:9/x".into(), "is an unspecified address"),
    ] {
        let (code, answer) = server.send_json("POST", "/api/webhooks", &json!({"url": url, "secret": SECRET}));
        assert_eq!(code, 422, "{url}: {answer}");
        let message = answer["message"].as_str().unwrap_or("");
        assert_eq!(answer["error"], "unprocessable", "{answer}");
        assert!(
            message.contains(why)
                && message.contains("webhook_allow_private")
                && message.contains("webhook_allow_networks"),
            "{url}: {answer}"
        );
        assert!(!message.contains(password), "{answer}");
    }
    assert_eq!(get(&server.url("/api/webhooks")).1, json!([]));
    server.kill();

    // Allowed by the list: loopback; still not the rest.
    let mut server = Server::start(dir.path(), &[ALLOW_LOOPBACK]);
    let (code, refused) = server.send_json(
        "POST",
        "/api/webhooks",
        &json!({"url": "http://10.0.0.1/hook", "secret": SECRET}),
    );
    assert_eq!(code, 422, "{refused}");
    let (code, hook) = server.send_json(
        "POST",
        "/api/webhooks",
        &json!({"url": with_password, "secret": SECRET}),
    );
    assert_eq!(code, 201, "{hook}");
    let masked = format!("http://user:***@{}/hook", receiver.addr);
    assert_eq!(hook["url"], masked.as_str());
    let hook = hook["id"].as_u64().expect("id");
    let (_, listed) = get(&server.url("/api/webhooks"));
    assert_eq!(listed[0]["url"], masked.as_str(), "{listed}");
    assert!(!listed.to_string().contains(password), "{listed}");
    let redirect_hook = create_webhook(&server, &format!("http://{}/moved", redirecting.addr));
    let named_hook = create_webhook(&server, &by_name);

    let (first, n) = process_bikes(&server);
    receiver.wait_delivered(n, &server, Duration::from_secs(60));
    named.wait_delivered(n, &server, Duration::from_secs(60));
    // The password is still sent, as basic auth.
    assert!(
        receiver
            .seen()
            .iter()
            .all(|r| r.authorization == "Basic dXNlcjpzM2NyZXQtcGFzcw=="),
        "{:?}",
        receiver.seen()
    );
    // A 301 is a failed attempt that says so; where it points is never asked.
    let log = wait_log(&server, redirect_hook, "the redirect refused", |log| {
        log.len() == n
            && log
                .iter()
                .all(|d| d["attempts"].as_array().is_some_and(|a| !a.is_empty()))
    });
    for d in &log {
        let attempt = &d["attempts"][0];
        assert_eq!(attempt["status"], 301, "{d}");
        assert!(
            attempt["error"]
                .as_str()
                .unwrap_or("")
                .contains("redirects are not followed"),
            "{d}"
        );
    }
    assert!(!redirecting.seen().is_empty());
    assert!(elsewhere.seen().is_empty(), "the redirect was followed");
    assert!(!server.log().contains(password), "{}", server.log());
    server.kill();

    // Started again without the list, the webhook it made is still there, and its deliveries
    // are refused before anything connects, the log saying why.
    let server = Server::start(dir.path(), &[]);
    let seen_before = receiver.seen().len();
    let named_before = named.seen().len();
    let (second, m) = process_bikes(&server);
    let log = wait_log(&server, hook, "the deliveries refused", |log| {
        let refused = log.iter().filter(|d| {
            d["video"] == second.as_str()
                && d["attempts"][0]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not sent: 127.0.0.1 is a loopback address"))
        });
        refused.count() == m
    });
    assert!(
        log.iter()
            .filter(|d| d["video"] == second.as_str())
            .all(|d| d["state"] == "pending" && d["attempts"][0]["status"].is_null()),
        "{log:?}"
    );
    assert_eq!(
        receiver.seen().len(),
        seen_before,
        "a refused delivery reached the receiver"
    );
    assert!(receiver.seen().iter().all(|r| r.body.contains(&first)));
    // The name resolves to loopback now as then: refused by the resolver, before connecting.
    let log = wait_log(&server, named_hook, "the deliveries by name refused", |log| {
        let refused = log.iter().filter(|d| {
            d["video"] == second.as_str()
                && d["attempts"][0]["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("not sent: ") && e.contains("is a loopback address"))
        });
        refused.count() == m
    });
    assert!(
        log.iter()
            .filter(|d| d["video"] == second.as_str())
            .all(|d| d["attempts"][0]["status"].is_null()),
        "{log:?}"
    );
    assert_eq!(named.seen().len(), named_before);
    let (_, listed) = get(&server.url("/api/webhooks"));
    assert!(!listed.to_string().contains(password), "{listed}");
    assert!(!server.log().contains(password), "{}", server.log());
}
