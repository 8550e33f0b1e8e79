//! Webhooks against a real HTTP receiver on this machine: events of a job's rules are queued as
//! the job raises them, and arrive signed, at least once, retried after failures, and those still owed when the server stops arrive after
//! it starts again.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::media;
use common::server::{curl, get, Server};
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

const READY: &[&str] = &["ready", "failed", "interrupted"];
const SECRET: &str = "webhook-test-secret-0123";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    signature: String,
    timestamp: String,
    body: String,
    answered: u16,
}

/// A plain HTTP/1.1 receiver: answers 500 to its first `fail_first` requests, 200 after.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(addr: &str, fail_first: usize) -> Receiver {
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
                    std::thread::sleep(Duration::from_millis(20));
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
                let answered = if count <= fail_first { 500 } else { 200 };
                let header = |k: &str| headers.get(k).cloned().unwrap_or_default();
                log.lock().expect("log").push(Received {
                    delivery: header("x-sightline-delivery"),
                    signature: header("x-sightline-signature"),
                    timestamp: header("x-sightline-timestamp"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered,
                });
                let reply = format!("HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = reader.get_mut().write_all(reply.as_bytes());
            }
        });
        Receiver { addr, seen, stop }
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().expect("log").clone()
    }

    /// Delivery ids it answered 200.
    fn delivered(&self) -> BTreeSet<String> {
        self.seen()
            .into_iter()
            .filter(|r| r.answered == 200)
            .map(|r| r.delivery)
            .collect()
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

#[test]
fn events_reach_a_receiver_signed_retried_and_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start("127.0.0.1:0", 2);
    let url = format!("http://{}/hook", receiver.addr);
    let mut server = Server::start(dir.path(), &[]);

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

    let (code, accepted) = server.upload(&media("bikes.mp4"), &[&middle_line()]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(
        server.wait_status(&id, READY, Duration::from_secs(300))["status"],
        "ready"
    );
    let n = crossings(&server, &id);
    assert!(n >= 1, "no crossing to send");

    // Every event arrives, signed; the two refused attempts are tried again, nothing else twice.
    receiver.wait_delivered(n, &server, Duration::from_secs(60));
    let seen = receiver.seen();
    assert_eq!(seen.len(), n + 2, "{seen:?}");
    for r in &seen {
        assert_eq!(r.signature, signed(&r.body), "a bad signature: {r:?}");
        assert!(r.timestamp.parse::<u64>().is_ok(), "{r:?}");
        let body: Value = serde_json::from_str(&r.body).expect("JSON body");
        assert_eq!(
            (body["delivery"].as_str(), body["video"].as_str()),
            (Some(r.delivery.as_str()), Some(id.as_str()))
        );
        assert_eq!(body["event"]["kind"], "line_crossed", "{body}");
    }
    let (code, log) = get(&server.url(&format!("/api/webhooks/{hook_id}/deliveries")));
    assert_eq!(code, 200, "{log}");
    let log = log.as_array().expect("deliveries");
    assert_eq!(log.len(), n);
    assert!(log.iter().all(|d| d["state"] == "delivered"), "{log:?}");
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
    let (code, accepted) = server.upload(&media("bikes.mp4"), &[&middle_line()]);
    assert_eq!(code, 202, "{accepted}");
    let second = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(
        server.wait_status(&second, READY, Duration::from_secs(300))["status"],
        "ready"
    );
    let owed = crossings(&server, &second);
    let started = Instant::now();
    loop {
        let (_, log) = get(&server.url(&format!("/api/webhooks/{hook_id}/deliveries")));
        let failing = log
            .as_array()
            .expect("deliveries")
            .iter()
            .filter(|d| {
                d["video"] == second.as_str() && d["state"] == "pending" && d["attempts"][0]["error"].is_string()
            })
            .count();
        if failing == owed {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    server.kill();

    // Back up, both of them: what was owed arrives.
    let receiver = Receiver::start(&port.to_string(), 0);
    let server = Server::start(dir.path(), &[]);
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
        let (code, _) = server.send_json(
            "POST",
            "/api/webhooks",
            &json!({"url": format!("{url}/{i}"), "secret": SECRET}),
        );
        assert_eq!(code, 201);
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
