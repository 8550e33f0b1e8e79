//! End to end: the real server processes bikes.mp4 and its `/metrics` tells the story — every
//! stage saw every frame, the histograms counted every request, nothing is left in flight — then
//! a live camera adds the live sources' metrics, in an exposition that promtool accepts. Also:
//! the Grafana dashboard only queries metrics that exist and its PromQL parses, and
//! `sightline.example.toml` is a valid, complete, default config.
//!
//! Needs `make setup` (model, ONNX Runtime, media) and promtool (Debian package `prometheus`,
//! installed by setup); the test fails, rather than skipping, when promtool is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::camera::Camera;
use common::server::{curl_raw, free_port, get, Server};
use common::{media, root};
use serde_json::{json, Value};

/// bikes.mp4: 10 s at 25 fps.
const BIKES_FRAMES: f64 = 250.0;
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// The samples of a Prometheus text exposition, keyed by series (`name{labels}` as written).
fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line: {l}"));
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in: {l}")),
            };
            (series.to_string(), value)
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("/metrics has no {series}; it has:\n{}", names(samples).join("\n")))
}

fn names(samples: &BTreeMap<String, f64>) -> Vec<String> {
    samples
        .keys()
        .map(|s| s.split('{').next().unwrap_or(s).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn has_promtool() -> bool {
    Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn processing_a_video_shows_in_the_metrics() {
    assert!(
        has_promtool(),
        "promtool is missing: install the Debian package `prometheus` (make setup does)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&dir.path().join("data"), &[]);

    // Before anything happens, the counters whose labels are known already read 0, so the first
    // event counts in `increase()` and `rate()`.
    let (_, body) = curl_raw("GET", &server.url("/metrics"), &[]);
    let before = samples(&String::from_utf8_lossy(&body));
    for series in [
        "sightline_uploads_total",
        "sightline_detections_total",
        "sightline_detection_retries_total",
        "sightline_worker_benched_total",
        "sightline_frames_total{stage=\"decoded\"}",
        "sightline_frames_total{stage=\"encoded\"}",
        "sightline_http_connections_refused_total{reason=\"per_client\"}",
        "sightline_http_connections_cut_total{reason=\"idle\"}",
        "sightline_cluster_bad_messages_total{message=\"detect_reply\"}",
        "sightline_cluster_events_total{event=\"joined\"}",
        "sightline_frames_in_flight",
    ] {
        assert_eq!(
            before.get(series),
            Some(&0.0),
            "{series} is not exported at 0 from the start"
        );
    }

    let (code, accepted) = server.upload(&media("bikes.mp4"), &[]);
    assert_eq!(code, 202, "upload: {accepted}");
    let id = accepted["id"].as_str().unwrap_or_else(|| panic!("no id in {accepted}"));
    let video = server.wait_status(id, &["ready", "failed", "interrupted"], READY_TIMEOUT);
    assert_eq!(video["status"], "ready", "{video}\n{}", server.log());
    assert_eq!(video["frames_done"].as_f64(), Some(BIKES_FRAMES), "{video}");

    let (status, body) = curl_raw("GET", &server.url("/metrics"), &[]);
    assert_eq!(status, 200);
    let exposition = String::from_utf8(body).expect("UTF-8 exposition");
    let m = samples(&exposition);

    // Every stage saw every frame (every = 1: every frame is detected).
    for stage in ["decoded", "detected", "rendered", "encoded"] {
        assert_eq!(
            value(&m, &format!("sightline_frames_total{{stage=\"{stage}\"}}")),
            BIKES_FRAMES,
            "stage {stage}"
        );
    }
    // One inference per detected frame at least (a retried request runs again), each timed.
    let inferences = value(&m, "sightline_inference_seconds_count");
    assert!(inferences >= BIKES_FRAMES, "inference count {inferences}");
    assert_eq!(value(&m, "sightline_inference_seconds_bucket{le=\"+Inf\"}"), inferences);
    let inference_sum = value(&m, "sightline_inference_seconds_sum");
    assert!(
        inference_sum > 0.0 && inference_sum / inferences < 5.0,
        "mean inference {} s",
        inference_sum / inferences
    );
    let requests = value(&m, "sightline_detection_request_seconds_count");
    let retries = value(&m, "sightline_detection_retries_total");
    assert_eq!(requests, BIKES_FRAMES + retries, "requests = frames + retries");
    // Dispatch to answer includes the model run.
    assert!(value(&m, "sightline_detection_request_seconds_sum") >= inference_sum * 0.9);
    assert_eq!(value(&m, "sightline_decode_seconds_count"), BIKES_FRAMES);
    assert_eq!(value(&m, "sightline_encode_push_seconds_count"), BIKES_FRAMES);
    // The job is over: its frames have all left the pipeline.
    assert_eq!(value(&m, "sightline_frames_in_flight"), 0.0);
    let detections = value(&m, "sightline_detections_total");
    assert!(detections > 0.0);
    assert_eq!(Some(detections), video["detections"].as_f64(), "{video}");
    // What the server itself exports.
    assert_eq!(value(&m, "sightline_jobs{status=\"ready\"}"), 1.0);
    assert_eq!(value(&m, "sightline_jobs{status=\"failed\"}"), 0.0);
    assert_eq!(value(&m, "sightline_jobs_waiting"), 0.0);
    assert_eq!(value(&m, "sightline_detector_workers"), 2.0);
    // Each detected frame is credited to exactly one worker; no node joined.
    let credited: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("sightline_worker_frames_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(credited, BIKES_FRAMES);
    assert_eq!(value(&m, "sightline_cluster_nodes{state=\"up\"}"), 0.0);
    assert_eq!(value(&m, "sightline_uploads_total"), 1.0);
    assert_eq!(
        value(
            &m,
            "sightline_http_requests_total{method=\"POST\",route=\"/api/videos\",status=\"202\"}"
        ),
        1.0
    );
    // No video id ever becomes a label value.
    assert!(!exposition.contains(id), "a video id leaked into the labels");

    // A live camera, until its first segment is listed: the live metrics have all been written.
    let camera = Camera::serving(free_port(), &media("vtest.avi"), 1);
    let (code, live) = server.send_json("POST", "/api/live", &json!({ "url": camera.url }));
    assert_eq!(code, 201, "{live}");
    let live_id = live["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    while get(&server.url(&format!("/api/live/{live_id}"))).1["latency_ms"].is_null() {
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "no live segment listed\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = curl_raw("GET", &server.url("/metrics"), &[]);
    assert_eq!(status, 200);
    let exposition = String::from_utf8(body).expect("UTF-8 exposition");
    assert!(!exposition.contains(&live_id), "a video id leaked into the labels");
    let m = samples(&exposition);
    assert_eq!(value(&m, "sightline_live_sources{state=\"live\"}"), 1.0);
    assert!(value(&m, "sightline_live_latency_seconds_count") >= 1.0);

    // promtool accepts the exposition.
    let check = Command::new("bash")
        .arg(root().join("scripts/check-metrics.sh"))
        .arg("--strict")
        .arg(&server.base)
        .output()
        .expect("bash could not be started");
    assert!(
        check.status.success(),
        "check-metrics.sh failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // The dashboard only asks for what is exported, in PromQL that parses.
    let exported: BTreeSet<String> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(String::from)
        .collect();
    check_dashboard(&exported, dir.path());

    // README's list of metrics is what the server exports, no more and no less.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section = readme
        .split("Metrics (`/metrics`, all prefixed `sightline_`):")
        .nth(1)
        .and_then(|rest| rest.split("No label ever carries").next())
        .expect("README's metrics paragraph");
    let listed: BTreeSet<String> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|code| code.split('{').next().unwrap_or(code))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|name| format!("sightline_{name}"))
        .collect();
    assert_eq!(listed, exported, "README's metrics (left) and /metrics (right) differ");
}

/// Every query of the dashboard names only exported metrics and passes `promtool check rules`.
fn check_dashboard(exported: &BTreeSet<String>, scratch: &Path) {
    let path = root().join("ops/grafana/sightline-dashboard.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read the dashboard"))
        .expect("the dashboard is JSON");
    assert_eq!(dash["__inputs"][0]["name"], "DS_PROMETHEUS");
    // Provisioned from a file there is no import step to fill `${DS_PROMETHEUS}`: a datasource
    // variable of that name does, and the import step sets the same variable.
    let variables = dash["templating"]["list"].as_array().expect("templating");
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "DS_PROMETHEUS" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "no datasource variable DS_PROMETHEUS"
    );
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(exprs.len() >= 10, "only {} queries", exprs.len());
    for expr in &exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !word.starts_with("sightline_") {
                continue;
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s).filter(|b| exported.contains(*b)))
                .unwrap_or(word);
            assert!(
                exported.contains(base),
                "the dashboard queries {word}, which is not exported: {expr}"
            );
        }
    }
    // Grafana's variables, given values, and the queries as recording rules for promtool to parse.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let concrete = expr
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&concrete).expect("string")
        ));
    }
    let file: PathBuf = scratch.join("dashboard-rules.yml");
    std::fs::write(&file, rules).expect("write rules");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool could not be started");
    assert!(
        out.status.success(),
        "the dashboard's queries do not parse:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_example_config_is_valid_complete_and_shows_the_defaults() {
    let text = std::fs::read_to_string(root().join("sightline.example.toml")).expect("read sightline.example.toml");
    let config: sightline_openapi::ServerConfig =
        toml::from_str(&text).unwrap_or_else(|e| panic!("sightline.example.toml does not parse: {e}"));
    config.validate().expect("sightline.example.toml is valid");
    assert_eq!(
        config,
        sightline_openapi::ServerConfig::default(),
        "sightline.example.toml should show the defaults"
    );
    // Every setting is documented, set or (for those unset by default) commented out.
    let defaults = serde_json::to_value(sightline_openapi::ServerConfig::default()).expect("serialize");
    for key in defaults.as_object().expect("an object").keys() {
        let documented = text.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        assert!(documented, "sightline.example.toml does not document `{key}`");
    }
}

#[test]
fn a_bad_value_in_the_config_stops_the_start_naming_its_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (text, key) in [("preset = \"placebo\"\n", "`preset`"), ("every = 0\n", "`every`")] {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).expect("write config");
        let out = common::run(
            common::sightline()
                .arg("serve")
                .arg("--config")
                .arg(&file)
                .arg("--data")
                .arg(dir.path().join("data")),
        );
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(err.contains(key) && !err.contains("panicked"), "{text}: {err}");
    }
}
