//! Zones and lines on a real video through the HTTP API: rules given at upload are evaluated while
//! the job runs; rules set later are evaluated over the stored tracks without the detector, and
//! give the same counts.
//!
//! The line: x = 0.25 from y = 0.30 to 0.62 of vtest.avi, across the path on the left where
//! people walk through. Counted by eye on 1 s and 0.5 s contact sheets of the clip (crossings of
//! the drawn segment by a person's feet): 7 westward, at 18.3, 20.4, 25.2, 53.2, 60.0, 67.8 and
//! 71.0 s, and 5 eastward, at 29.8, 63.9, 66.0, 69.8 and 74.7 s (four people cross and come
//! back). Sightline counted the same 7 and 5, each within 0.4 s of those times. The test allows
//! 10% on the total and one either way per direction, for another machine's floating point.

mod common;

use std::time::Duration;

use common::media;
use common::server::{curl, get, Server};
use serde_json::{json, Value};

const READY: &[&str] = &["ready", "failed", "interrupted"];

fn line_rules() -> Value {
    json!({
        "lines": [{
            "name": "left path",
            "from": {"x": 0.25, "y": 0.30},
            "to": {"x": 0.25, "y": 0.62},
            "positive": "westward",
            "negative": "eastward",
        }]
    })
}

/// `sightline_frames_total{stage="detected"}` from /metrics.
fn frames_detected(server: &Server) -> f64 {
    let (_, text) = common::server::curl_raw("GET", &server.url("/metrics"), &[]);
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("sightline_frames_total{stage=\"detected\"} "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the detected-frames counter")
}

fn total(crossings: &Value, direction: &str) -> u64 {
    crossings
        .as_array()
        .expect("totals")
        .iter()
        .filter(|c| c["direction"] == direction)
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn lines_and_zones_count_people_and_new_rules_reuse_stored_tracks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);

    // Bad rules at upload: refused with the problem named, nothing kept.
    let bad = json!({"zones": [{"name": "q", "polygon": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]}]});
    let (code, body) = server.upload(&media("bikes.mp4"), &[&format!("rules={bad}")]);
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("zone 'q'"), "{body}");
    let (_, list) = get(&server.url("/api/videos"));
    assert_eq!(list["items"], json!([]), "a refused upload left a video behind");

    let (code, accepted) = server.upload(&media("vtest.avi"), &[&format!("rules={}", line_rules())]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();

    // Events are stored as people cross, while the video is still processing.
    let started = std::time::Instant::now();
    let mut while_processing = 0;
    let video = loop {
        let (_, rules) = get(&server.url(&format!("/api/videos/{id}/rules")));
        let (_, video) = get(&server.url(&format!("/api/videos/{id}")));
        if READY.contains(&video["status"].as_str().unwrap_or("")) {
            break video;
        }
        if video["status"] == "processing" {
            while_processing = rules["events"].as_u64().unwrap_or(0);
        }
        assert!(started.elapsed() < Duration::from_secs(900), "never ready: {video}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(video["status"], "ready", "{video}");
    // Complete once the video reads `ready`.
    let (_, rules) = get(&server.url(&format!("/api/videos/{id}/rules")));
    assert!(rules["analysed_at"].is_u64(), "{rules}");
    println!(
        "{while_processing} of {} events readable while the video was processing",
        rules["events"]
    );
    assert!(while_processing >= 1, "no event before the job ended: {rules}");
    assert_eq!(rules["lines"][0]["from"], json!({"x": 0.25, "y": 0.3}), "{rules}");
    let (code, counts) = get(&server.url(&format!("/api/videos/{id}/analytics/counts?bin=20")));
    assert_eq!(code, 200, "{counts}");
    let totals = &counts["lines"][0]["totals"];
    let (west, east) = (total(totals, "westward"), total(totals, "eastward"));
    println!("left path: {west} westward, {east} eastward (by eye: 7 and 5)");
    assert!((6..=8).contains(&west) && (4..=6).contains(&east), "{counts}");
    assert!((11..=13).contains(&(west + east)), "{counts}");
    let (_, stats) = get(&server.url(&format!("/api/videos/{id}/stats")));
    assert_eq!(
        stats["analytics_events"],
        json!({"line_crossed": west + east}),
        "{stats}"
    );
    assert!(
        totals
            .as_array()
            .expect("totals")
            .iter()
            .all(|c| c["class"] == "person"),
        "{counts}"
    );

    // Every event once through the pages, in time order; the CSV has them all.
    let mut times = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, page) = get(&server.url(&format!(
            "/api/videos/{id}/analytics/events?kind=line_crossed&limit=5{cursor}"
        )));
        assert_eq!(code, 200, "{page}");
        times.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["time"].as_f64().unwrap_or(-1.0)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(times.len() as u64, west + east);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let (code, csv) = common::server::curl_raw(
        "GET",
        &server.url(&format!("/api/videos/{id}/analytics/events.csv")),
        &[],
    );
    assert_eq!(code, 200);
    assert_eq!(String::from_utf8_lossy(&csv).lines().count(), times.len() + 1);

    // New rules on the processed video: evaluated from the stored tracks, no frame detected.
    let detected = frames_detected(&server);
    let mut more = line_rules();
    more["zones"] = json!([{
        "name": "lamp",
        "polygon": [{"x": 0.45, "y": 0.3}, {"x": 0.65, "y": 0.3}, {"x": 0.65, "y": 0.5}, {"x": 0.45, "y": 0.5}],
        "classes": ["person"],
        "min_dwell_s": 3,
    }]);
    let (code, rules) = server.send_json("PUT", &format!("/api/videos/{id}/rules"), &more);
    assert_eq!(code, 200, "{rules}");
    println!(
        "re-analysis of the 80 s video: {} ms, {} events",
        rules["took_ms"], rules["events"]
    );
    assert_eq!(frames_detected(&server), detected, "the re-analysis ran the detector");
    let (_, counts) = get(&server.url(&format!("/api/videos/{id}/analytics/counts")));
    let lamp = &counts["zones"][0];
    assert!(lamp["entries"].as_u64().unwrap_or(0) >= 1, "{counts}");
    assert!(lamp["entries"].as_u64() >= lamp["exits"].as_u64(), "{counts}");
    assert!(!lamp["occupancy"].as_array().expect("occupancy").is_empty(), "{counts}");
    assert_eq!(
        total(&counts["lines"][0]["totals"], "westward"),
        west,
        "the line's counts changed"
    );
    // The old cursor belongs to the old rules.
    let (code, body) = get(&server.url(&format!(
        "/api/videos/{id}/analytics/events?limit=1&cursor={}",
        "0".repeat(32)
    )));
    assert_eq!(code, 400, "{body}");

    // A rendering with the rules drawn: the line is there, in yellow, on its first frame.
    let drawn = json!({"rules": true, "thickness": 6});
    let (code, accepted) = server.send_json("POST", &format!("/api/videos/{id}/renders"), &drawn);
    assert_eq!(code, 202, "{accepted}");
    let render = server.wait_render(&accepted);
    assert_eq!(
        (&render["status"], &render["options"]["rules"]),
        (&json!("ready"), &json!(true)),
        "{render}"
    );
    let (r, g, b) = first_frame_pixel(&server, render["master"].as_str().expect("master"), 0.25, 0.55);
    assert!(r > 200 && g > 170 && b < 100, "not the overlay's yellow: {r},{g},{b}");

    // Bad rules later: 400 naming the problem; the stored ones stay.
    let bow_tie = json!({"zones": [{"name": "bow", "polygon": [
        {"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.9}, {"x": 0.9, "y": 0.1}, {"x": 0.1, "y": 0.9}]}]});
    let unknown = json!({"lines": [{"name": "l", "from": {"x": 0.1, "y": 0.5}, "to": {"x": 0.9, "y": 0.5}, "classes": ["unicorn"]}]});
    let outside = json!({"lines": [{"name": "l", "from": {"x": 1.5, "y": 0.5}, "to": {"x": 0.9, "y": 0.5}}]});
    let lines: Vec<Value> = (0..33)
        .map(|i| json!({"name": format!("l{i}"), "from": {"x": 0.1, "y": 0.5}, "to": {"x": 0.9, "y": 0.5}}))
        .collect();
    let too_many = json!({ "lines": lines });
    for (rules, why) in [
        (bow_tie, "crosses itself"),
        (unknown, "unknown class 'unicorn'"),
        (outside, "x"),
        (too_many, "at most 32 rules"),
    ] {
        let (code, body) = server.send_json("PUT", &format!("/api/videos/{id}/rules"), &rules);
        assert_eq!(code, 400, "{why}: {body}");
        assert!(body["message"].as_str().unwrap_or("").contains(why), "{why}: {body}");
    }
    let (_, kept) = get(&server.url(&format!("/api/videos/{id}/rules")));
    assert_eq!(kept["zones"][0]["name"], "lamp", "{kept}");

    // Deleting the video deletes its rules and events.
    let (code, _) = curl("DELETE", &server.url(&format!("/api/videos/{id}")), &[]);
    assert_eq!(code, 204);
    let (code, _) = get(&server.url(&format!("/api/videos/{id}/rules")));
    assert_eq!(code, 404);
}

/// The RGB of the first frame of a rendering's top rendition at (`x`, `y`) of the picture.
fn first_frame_pixel(server: &Server, master: &str, x: f64, y: f64) -> (u8, u8, u8) {
    let base = master.rsplit_once('/').expect("a path").0;
    let (_, text) = common::server::curl_raw("GET", &server.url(master), &[]);
    let text = String::from_utf8_lossy(&text);
    let variant = text.lines().find(|l| l.ends_with(".m3u8")).expect("a variant");
    let (_, playlist) = common::server::curl_raw("GET", &server.url(&format!("{base}/{variant}")), &[]);
    let playlist = String::from_utf8_lossy(&playlist);
    let segment = playlist.lines().find(|l| l.ends_with(".ts")).expect("a segment");
    let folder = variant.rsplit_once('/').map_or("", |(f, _)| f);
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = dir.path().join("first.ts");
    let (_, bytes) = common::server::curl_raw("GET", &server.url(&format!("{base}/{folder}/{segment}")), &[]);
    std::fs::write(&ts, bytes).expect("segment written");
    // Scaled to a known size: the picture's fractions stay where they are.
    let (w, h) = (384usize, 288usize);
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&ts)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=384:288",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let (px, py) = ((x * w as f64) as usize, (y * h as f64) as usize);
    let i = (py * w + px) * 3;
    (out.stdout[i], out.stdout[i + 1], out.stdout[i + 2])
}
