//! Events published to a real MQTT broker (Debian's mosquitto, started here on a free port): each
//! event on its kind's topic, and the video's counts retained for subscribers that come later.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::media;
use common::server::{free_port, get, Server};
use serde_json::{json, Value};

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn broker(dir: &std::path::Path, port: u16) -> Killed {
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .expect("broker config");
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto starts (make setup installs it)");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the broker did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

/// `mosquitto_sub -v` on `topic`, its lines (`topic payload`) written to `out`.
fn subscribe(port: u16, topic: &str, out: &std::path::Path, extra: &[&str]) -> Killed {
    let file = std::fs::File::create(out).expect("subscriber output");
    let child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-v", "-t", topic])
        .args(extra)
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub starts");
    Killed(child)
}

/// The messages a subscriber wrote, as (topic, JSON payload).
fn messages(out: &std::path::Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t.to_string(), serde_json::from_str(p).unwrap_or(Value::Null)))
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_and_a_retained_summary_reach_the_broker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _broker = broker(dir.path(), port);
    let live = dir.path().join("live.txt");
    let _sub = subscribe(port, "sightline/#", &live, &[]);
    let url = format!("mqtt://127.0.0.1:{port}");
    let server = Server::start(&dir.path().join("server"), &[("SIGHTLINE_MQTT_URL", url.as_str())]);
    server.wait_log("connected to the MQTT broker", Duration::from_secs(20));

    let rules = json!({"lines": [{"name": "middle", "from": {"x": 0.5, "y": 0.0}, "to": {"x": 0.5, "y": 1.0}}]});
    let (code, accepted) = server.upload(&media("bikes.mp4"), &[&format!("rules={rules}")]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    let mut events = 0;
    wait_for("the rules were never analysed", Duration::from_secs(300), || {
        let (_, r) = get(&server.url(&format!("/api/videos/{id}/rules")));
        events = r["events"].as_u64().unwrap_or(0) as usize;
        r["analysed_at"].is_u64()
    });
    assert!(events >= 1, "no event to publish");

    // Each event on its kind's topic, then the summary.
    let summary_topic = format!("sightline/videos/{id}/summary");
    wait_for("not every message arrived", Duration::from_secs(20), || {
        messages(&live).iter().any(|(t, _)| *t == summary_topic)
    });
    let got = messages(&live);
    let crossings: Vec<&Value> = got
        .iter()
        .filter(|(t, _)| t == "sightline/events/line_crossed")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(crossings.len(), events, "{got:?}");
    assert!(
        crossings
            .iter()
            .all(|p| p["video"] == id.as_str() && p["event"]["rule"] == "middle"),
        "{got:?}"
    );
    let summary = &got.iter().find(|(t, _)| *t == summary_topic).expect("summary").1;
    let counted: u64 = summary["lines"]["middle"]
        .as_object()
        .expect("the line's counts")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(counted as usize, events, "{summary}");

    // Retained: a subscriber that comes now still gets the summary.
    let late = dir.path().join("late.txt");
    let mut sub = subscribe(port, &summary_topic, &late, &["-C", "1", "-W", "10"]);
    let _ = sub.0.wait();
    assert_eq!(messages(&late).first().map(|(_, p)| p.clone()), Some(summary.clone()));

    // Every message acknowledged by the broker is counted.
    let published = || {
        let (_, metrics) = common::server::curl_raw("GET", &server.url("/metrics"), &[]);
        String::from_utf8_lossy(&metrics)
            .lines()
            .find_map(|l| l.strip_prefix("sightline_mqtt_messages_total{outcome=\"published\"} "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as usize
    };
    wait_for(
        "the broker's acknowledgements were not counted",
        Duration::from_secs(10),
        || published() == events + 1,
    );

    // New rules on the processed video: the retained counts follow them; the events, past
    // moments, are not published again.
    let more = json!({"lines": [
        {"name": "middle", "from": {"x": 0.5, "y": 0.0}, "to": {"x": 0.5, "y": 1.0}},
        {"name": "left", "from": {"x": 0.25, "y": 0.0}, "to": {"x": 0.25, "y": 1.0}},
    ]});
    let (code, answer) = server.send_json("PUT", &format!("/api/videos/{id}/rules"), &more);
    assert_eq!(code, 200, "{answer}");
    wait_for("the new summary was not published", Duration::from_secs(10), || {
        messages(&live)
            .iter()
            .any(|(t, p)| *t == summary_topic && p["lines"].get("left").is_some())
    });
    let again = dir.path().join("again.txt");
    let mut sub = subscribe(port, &summary_topic, &again, &["-C", "1", "-W", "10"]);
    let _ = sub.0.wait();
    let retained = messages(&again)
        .first()
        .map(|(_, p)| p.clone())
        .expect("retained summary");
    assert_eq!(retained["events"], answer["events"], "{retained}");
    assert_eq!(retained["lines"]["middle"], summary["lines"]["middle"], "{retained}");
    let republished = messages(&live)
        .iter()
        .filter(|(t, _)| t == "sightline/events/line_crossed")
        .count();
    assert_eq!(republished, events, "events were published again");
}
