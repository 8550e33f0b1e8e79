//! `sightline serve` end to end over real HTTP: the whole life of a video, bad input, tokens,
//! and a crash in the middle of a job.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{curl, curl_raw, get, Server};
use common::*;
use serde_json::Value;

const READY: &[&str] = &["ready", "failed"];

#[test]
fn a_video_from_upload_to_delete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    let (code, accepted) = server.upload(&media("vtest.avi"), &["classes=person,car", "confidence=0.3"]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(accepted["links"]["stream"], format!("/api/videos/{id}/stream"));

    // 202 until every rendition has a segment, then 200 while processing continues.
    let stream_url = server.url(&format!("/api/videos/{id}/stream"));
    let started = Instant::now();
    let mut saw_202 = false;
    let playable: Value = loop {
        let (code, body) = get(&stream_url);
        match code {
            202 => saw_202 = true,
            200 => break body,
            other => panic!("stream answered {other}: {body}"),
        }
        assert!(started.elapsed() < Duration::from_secs(300), "never playable");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(saw_202, "the stream was playable before any segment existed");
    assert_eq!(playable["ended"], false, "playable only at the end: {playable}");
    let master_url = server.url(playable["master"].as_str().expect("master url"));
    let (code, master) = curl_raw("GET", &master_url, &[]);
    assert_eq!(code, 200);
    let master = String::from_utf8(master).expect("text");
    let variants: Vec<&str> = master.lines().filter(|l| l.ends_with(".m3u8")).collect();
    assert_eq!(variants.len(), 3, "{master}");
    for v in &variants {
        let (code, playlist) = curl_raw("GET", &server.url(&format!("/streams/{id}/{v}")), &[]);
        assert_eq!(code, 200);
        let playlist = String::from_utf8(playlist).expect("text");
        let seg = playlist.lines().find(|l| l.ends_with(".ts")).expect("a segment listed");
        let folder = v.trim_end_matches("/index.m3u8");
        let (code, bytes) = curl_raw("GET", &server.url(&format!("/streams/{id}/{folder}/{seg}")), &[]);
        assert_eq!(code, 200);
        assert_eq!(bytes.first(), Some(&0x47), "an MPEG-TS segment starts with a sync byte");
    }

    let record = server.wait_status(&id, READY, Duration::from_secs(600));
    assert_eq!(record["status"], "ready", "{record}");
    let (_, stream) = get(&stream_url);
    assert_eq!(stream["ended"], true);
    assert_eq!(
        stream["playable_segments"], 42,
        "80 s: 0.5, 0.5, 1, then 2 s segments: {stream}"
    );
    // The event stream of a ready video says the same, then ends; so does its latest event, for
    // a client that asks for JSON (or does not ask for the stream).
    let events_url = server.url(&format!("/api/videos/{id}/events"));
    let (code, latest) = get(&events_url);
    assert_eq!(code, 200, "{latest}");
    assert_eq!(
        (&latest["kind"], &latest["status"], &latest["playable_segments"]),
        (&Value::from("status"), &Value::from("ready"), &Value::from(42)),
        "{latest}"
    );
    let (code, events) = curl_raw(
        "GET",
        &events_url,
        &["--max-time", "10", "-H", "Accept: text/event-stream"],
    );
    assert_eq!(code, 200);
    let status: Value = String::from_utf8_lossy(&events)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .find(|e: &Value| e["kind"] == "status")
        .expect("a status event");
    assert_eq!(status["playable_segments"], 42, "{status}");

    // Paging a window with a small limit returns each detection exactly once.
    let window = |extra: &str| server.url(&format!("/api/videos/{id}/detections?start=10&end=30{extra}"));
    let (code, all) = get(&window("&limit=5000"));
    assert_eq!(code, 200, "{all}");
    let all = all["items"].as_array().expect("items").clone();
    assert!(all.len() > 50, "only {} detections in 20 s", all.len());
    assert!(all.iter().all(|d| {
        let t = d["time"].as_f64().unwrap_or(-1.0);
        (10.0..30.0).contains(&t) && (d["class"] == "person" || d["class"] == "car")
    }));
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, page) = get(&window(&format!("&limit=37{cursor}")));
        assert_eq!(code, 200, "{page}");
        for d in page["items"].as_array().expect("items") {
            seen.push((d["frame"].as_u64(), d["class_id"].as_u64(), d["box"].to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), all.len());
    assert_eq!(unique.len(), seen.len(), "a detection came twice");
    let (_, persons) = get(&window("&class=person&confidence=0.5&limit=5000"));
    let persons = persons["items"].as_array().expect("items");
    assert!(persons
        .iter()
        .all(|d| d["class"] == "person" && d["confidence"].as_f64() >= Some(0.5)));

    let (code, stats) = get(&server.url(&format!("/api/videos/{id}/stats?bin=20")));
    assert_eq!(code, 200, "{stats}");
    assert_eq!(stats["total_detections"], record["detections"]);
    let bins = stats["histogram"].as_array().expect("histogram");
    assert!(bins.len() >= 3 && bins.iter().all(|b| b["start"].as_u64().is_some_and(|s| s % 20 == 0)));
    let classes: Vec<&str> = stats["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .filter_map(|c| c["class"].as_str())
        .collect();
    assert!(classes.contains(&"person"), "{classes:?}");

    // A new rendering with only people drawn comes from the stored detections: the model does
    // not run again, so the inference counter stays where it was.
    let inferences = || metric(&server, "sightline_inference_seconds_count");
    let before = inferences();
    assert!(before >= 795.0, "the job ran the model on every frame: {before}");
    let body = r#"{"classes": ["person"], "opacity": 0.6, "thickness": 3, "labels": true}"#;
    let (code, render) = curl(
        "POST",
        &server.url(&format!("/api/videos/{id}/renders")),
        &["-H", "Content-Type: application/json", "-d", body],
    );
    assert_eq!(code, 202, "{render}");
    let render = server.wait_render(&render);
    assert_eq!(render["status"], "ready", "{render}");
    assert_eq!(inferences(), before, "re-rendering ran the detector");
    let (code, master) = curl_raw("GET", &server.url(render["master"].as_str().expect("master")), &[]);
    assert_eq!(code, 200);
    let master = String::from_utf8(master).expect("text");
    let first = master.lines().find(|l| l.ends_with(".m3u8")).expect("a variant");
    let base = render["master"]
        .as_str()
        .expect("master")
        .trim_end_matches("master.m3u8")
        .to_string();
    let (code, playlist) = curl_raw("GET", &server.url(&format!("{base}{first}")), &[]);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&playlist).contains("#EXT-X-ENDLIST"));
    let (_, again) = get(&server.url(&format!("/api/videos/{id}")));
    assert_eq!(
        again["detections"], record["detections"],
        "the video's own detections are untouched"
    );
    let (code, bad) = curl(
        "POST",
        &server.url(&format!("/api/videos/{id}/renders")),
        &["-H", "Content-Type: application/json", "-d", r#"{"opacity": 0}"#],
    );
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad["message"].as_str().is_some_and(|m| m.contains("opacity")),
        "names the field: {bad}"
    );
    let (code, bad) = curl(
        "POST",
        &server.url(&format!("/api/videos/{id}/renders")),
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"classes": ["unicorn"]}"#,
        ],
    );
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad["message"].as_str().is_some_and(|m| m.contains("unicorn")),
        "names the class: {bad}"
    );

    let (code, _) = curl("DELETE", &server.url(&format!("/api/videos/{id}")), &[]);
    assert_eq!(code, 204);
    for path in [
        format!("/api/videos/{id}"),
        format!("/api/videos/{id}/stats"),
        format!("/streams/{id}/master.m3u8"),
    ] {
        let (code, body) = get(&server.url(&path));
        assert_eq!(code, 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    assert!(!dir.path().join("streams").join(&id).exists());
}

#[test]
fn a_video_with_sound_keeps_it_in_every_rendering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    let (code, accepted) = server.upload(&media("bikes_aac.mp4"), &[]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    let done = server.wait_status(&id, READY, Duration::from_secs(300));
    assert_eq!(done["status"], "ready", "{done}");
    assert_eq!(done["has_audio"], true, "{done}");
    assert_eq!(done["warnings"], serde_json::json!([]), "{done}");
    // The original and a re-rendering both name the sound, and the server serves it.
    let sound_of = |master_url: &str| {
        let (code, master) = curl_raw("GET", &server.url(master_url), &[]);
        assert_eq!(code, 200, "{master_url}");
        let master = String::from_utf8_lossy(&master).into_owned();
        assert!(
            master.contains("TYPE=AUDIO") && master.contains("mp4a.40.2"),
            "{master}"
        );
        let audio = format!("{}audio/index.m3u8", master_url.trim_end_matches("master.m3u8"));
        let (code, playlist) = curl_raw("GET", &server.url(&audio), &[]);
        assert_eq!(code, 200, "{audio}");
        let playlist = String::from_utf8_lossy(&playlist).into_owned();
        assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
        let segment = playlist.lines().find(|l| l.ends_with(".ts")).expect("a segment");
        let (code, bytes) = curl_raw("GET", &server.url(&audio.replace("index.m3u8", segment)), &[]);
        assert!(code == 200 && !bytes.is_empty(), "{segment}: {code}");
    };
    let (_, stream) = get(&server.url(&format!("/api/videos/{id}/stream")));
    sound_of(stream["master"].as_str().expect("master"));
    let (code, render) = curl(
        "POST",
        &server.url(&format!("/api/videos/{id}/renders")),
        &["-H", "Content-Type: application/json", "-d", r#"{"classes": ["car"]}"#],
    );
    assert_eq!(code, 202, "{render}");
    let render = server.wait_render(&render);
    assert_eq!(render["status"], "ready", "{render}");
    sound_of(render["master"].as_str().expect("master"));
}

#[test]
fn json_logs_carry_the_request_id_and_name_videos_as_the_api_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[("SIGHTLINE_LOG_FORMAT", "json")]);
    // The client's request id comes back in the response and in the access line.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "-H", "x-request-id: abc"])
        .arg(server.url("/api/videos"))
        .output()
        .expect("curl runs");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("x-request-id: abc"), "{head}");
    let (code, accepted) = server.upload(&media("bikes.mp4"), &[]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_string();
    server.wait_status(&id, READY, Duration::from_secs(300));
    server.wait_log("job ended", Duration::from_secs(10));

    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    for l in &lines {
        assert!(
            l["timestamp"].is_string() && l["level"].is_string() && l["target"].is_string() && l["message"].is_string(),
            "{l}"
        );
    }
    let access = lines
        .iter()
        .find(|l| l["target"] == "sightline::access" && l["span"]["request_id"] == "abc")
        .unwrap_or_else(|| panic!("no access line with request id abc:\n{}", server.log()));
    assert_eq!(
        (access["method"].as_str(), access["route"].as_str()),
        (Some("GET"), Some("/api/videos"))
    );
    assert_eq!(access["status"], 200, "{access}");
    // Every request gets an id of its own when the client sends none.
    let upload = lines
        .iter()
        .find(|l| l["target"] == "sightline::access" && l["method"] == "POST")
        .expect("the upload's access line");
    assert!(upload["span"]["request_id"]
        .as_str()
        .is_some_and(|r| !r.is_empty() && r != "abc"));
    // The video is named as the API names it, from upload to the job's end.
    for message in ["upload accepted", "job started", "job ended"] {
        let line = lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no '{message}' line"));
        assert!(line.to_string().contains(&id), "{message}: {line}");
    }
    assert!(!server.log().contains('\u{1b}'), "escape codes in JSON logs");
}

#[test]
fn the_spec_names_every_operation_and_marks_optional_parameters_optional() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    let (code, spec) = get(&server.url("/openapi.json"));
    assert_eq!(code, 200);
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(id.chars().next().is_some_and(|c| c.is_ascii_lowercase()), "{id}");
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        }
    }
    assert!(ids.contains("listDetections") && ids.contains("uploadVideo"), "{ids:?}");
    let params = spec["paths"]["/api/videos/{id}/detections"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let class = params.iter().find(|p| p["name"] == "class").expect("class parameter");
    assert_ne!(class["required"], true, "class is marked required: {class}");
}

/// The value of an unlabelled metric in the server's Prometheus text.
fn metric(server: &Server, name: &str) -> f64 {
    let (code, text) = curl_raw("GET", &server.url("/metrics"), &[]);
    assert_eq!(code, 200);
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Every refusal is a 4xx JSON error, the server stays healthy, nothing is stored.
#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(
        dir.path(),
        &[("SIGHTLINE_MAX_UPLOAD_MB", "1"), ("SIGHTLINE_MAX_DURATION_S", "5")],
    );
    let files = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let p = files.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let random: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let video = std::fs::read(media("bikes.mp4")).expect("read");
    let empty = write("empty.mp4", b"");
    let noise = write("noise.mp4", &random);
    let truncated = write("truncated.mp4", &video[..video.len() / 2]);
    let big = write("big.mp4", &vec![7u8; 3 * 1024 * 1024]);
    let audio = files.path().join("tone.ogg");
    make_audio_only(&audio);

    let expect = |(code, body): (u16, Value), want: u16, what: &str| {
        assert_eq!(code, want, "{what}: {body}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{what}: not a JSON error: {body}"
        );
    };
    let upload = server.url("/api/videos");
    expect(curl("POST", &upload, &["-F", "confidence=0.5"]), 400, "no file part");
    expect(server.upload(&empty, &[]), 400, "empty file");
    expect(server.upload(&noise, &[]), 415, "random bytes named .mp4");
    expect(server.upload(&truncated, &[]), 415, "truncated MP4");
    expect(server.upload(&audio, &[]), 422, "audio only");
    let (code, body) = server.upload(&media("bikes_nodecoder.avi"), &[]);
    expect((code, body.clone()), 415, "a codec with no decoder");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("no decoder for"),
        "{body}"
    );
    // Over an input limit: 422, the limit and the file's value named.
    for (clip, limit, value) in [
        ("wide_8000x64.mp4", "max_width", "8000 pixels wide"),
        ("bikes.mp4", "max_duration_s", "lasts 10.0 s"),
    ] {
        let (code, body) = server.upload(&media(clip), &[]);
        expect((code, body.clone()), 422, clip);
        assert_eq!(body["error"], "input_limit", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(limit) && message.contains(value), "{clip}: {message}");
    }
    // A bad option's message names it, as the form calls it.
    for (field, named) in [
        ("confidence=3", "confidence"),
        ("classes=unicorn", "unicorn"),
        ("every=0", "every"),
    ] {
        let (code, body) = server.upload(&media("bikes.mp4"), &[field]);
        expect((code, body.clone()), 400, field);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(named),
            "{field}: the message does not name it: {message}"
        );
    }
    expect(
        server.upload(&media("bikes.mp4"), &["model=other"]),
        400,
        "unknown model",
    );
    let chunked = ["-H", "Transfer-Encoding: chunked", "-F"];
    let form = format!("file=@{}", big.display());
    expect(
        curl("POST", &upload, &[chunked[0], chunked[1], chunked[2], &form]),
        413,
        "over the limit, chunked",
    );
    expect(server.upload(&big, &[]), 413, "over the limit, with length");

    expect(get(&server.url("/api/videos/00000000000000ff")), 404, "unknown id");
    expect(get(&server.url("/api/videos/not-an-id")), 400, "malformed id");
    expect(get(&server.url("/api/videos?limit=0")), 400, "limit 0");
    expect(get(&server.url("/api/videos?limit=abc")), 400, "limit not a number");
    expect(
        get(&server.url("/api/videos/0000000000000000/stream")),
        404,
        "stream of unknown id",
    );
    expect(
        curl("DELETE", &server.url("/api/videos/zz"), &[]),
        400,
        "delete malformed id",
    );
    expect(
        get(&server.url("/streams/0000000000000000/../../etc/passwd")),
        404,
        "path escape",
    );

    let (code, health) = get(&server.url("/healthz"));
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    let (_, list) = get(&server.url("/api/videos"));
    assert_eq!(list["items"], serde_json::json!([]), "something was stored: {list}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
        .expect("uploads")
        .collect();
    assert!(leftovers.is_empty(), "upload files left behind: {leftovers:?}");
    let spooled: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).expect("spool").collect();
    assert!(spooled.is_empty(), "spool files left behind: {spooled:?}");
}

#[test]
fn detection_queries_validate_their_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    let (code, accepted) = server.upload(&media("bikes.mp4"), &[]);
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id");
    server.wait_status(id, READY, Duration::from_secs(300));
    let q = |query: &str| get(&server.url(&format!("/api/videos/{id}/detections?{query}")));
    for (query, why) in [
        ("start=5&end=2", "end before start"),
        ("limit=0", "limit 0"),
        ("limit=5001", "limit over 5000"),
        ("confidence=1.5", "confidence over 1"),
        ("class=unicorn", "unknown class"),
        ("cursor=zz", "garbage cursor"),
        ("start=-1", "negative start"),
        ("start=abc", "start not a number"),
    ] {
        let (code, body) = q(query);
        assert_eq!(code, 400, "{why}: {body}");
        assert!(body["message"].is_string(), "{why}: {body}");
    }
    let (code, body) = get(&server.url(&format!("/api/videos/{id}/stats?bin=0")));
    assert_eq!(code, 400, "{body}");
    let (code, body) = q("start=0&end=10&class=car");
    assert_eq!(code, 200, "{body}");
    assert!(!body["items"].as_array().expect("items").is_empty());

    // The exports hold every stored detection once.
    let (_, record) = get(&server.url(&format!("/api/videos/{id}")));
    let count = record["detections"].as_u64().expect("count") as usize;
    assert!(count > 100);
    let (code, csv) = curl_raw("GET", &server.url(&format!("/api/videos/{id}/detections.csv")), &[]);
    assert_eq!(code, 200);
    let csv = String::from_utf8(csv).expect("text");
    assert!(csv.starts_with("frame,time,class,class_id,confidence,x1,y1,x2,y2,track_id,source\n"));
    assert_eq!(csv.lines().count(), count + 1);
    let (code, jsonl) = curl_raw("GET", &server.url(&format!("/api/videos/{id}/detections.jsonl")), &[]);
    assert_eq!(code, 200);
    let rows: Vec<Value> = String::from_utf8(jsonl)
        .expect("text")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), count);
    assert!(rows
        .iter()
        .all(|r| r["class"].is_string() && r["box"].as_array().is_some_and(|b| b.len() == 4)));
}

#[test]
fn mutations_need_the_token_when_one_is_configured() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "a-long-enough-test-token";
    let server = Server::start(dir.path(), &[("SIGHTLINE_API_TOKEN", token)]);
    let upload = server.url("/api/videos");
    // Refused requests carry a tiny body: the server answers 401 without reading one, and a
    // client still sending a large body may see the connection close instead of the answer.
    let small = dir.path().join("small.mp4");
    std::fs::write(&small, b"not read").expect("write");
    let small_form = format!("file=@{}", small.display());
    let (code, body) = curl("POST", &upload, &["-F", &small_form]);
    assert_eq!(code, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let wrong = "Authorization: Bearer wrong-token-of-some-length";
    let (code, _) = curl("POST", &upload, &["-H", wrong, "-F", &small_form]);
    assert_eq!(code, 401);
    let form = format!("file=@{}", media("bikes.mp4").display());
    let (code, _) = curl("DELETE", &server.url("/api/videos/0000000000000000"), &[]);
    assert_eq!(code, 401);
    // Reading needs no token.
    assert_eq!(get(&server.url("/api/videos")).0, 200);
    // The scheme's case does not matter (RFC 9110).
    let auth = format!("Authorization: bearer {token}");
    let (code, body) = curl("POST", &upload, &["-H", &auth, "-F", &form]);
    assert_eq!(code, 202, "{body}");
}

#[test]
fn the_servers_own_page_may_write_whatever_cors_allows_and_others_get_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(
        dir.path(),
        &[("SIGHTLINE_CORS_ORIGINS", "[\"https://dashboard.example.org\"]")],
    );
    let host = server.base.trim_start_matches("http://").to_string();
    // A write that passes CORS reaches its handler: here, rules for a video that is not there.
    let rules = r#"{"zones": [], "lines": []}"#;
    let post = |origin: &str| {
        curl(
            "PUT",
            &server.url("/api/videos/0123456789abcdef/rules"),
            &[
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "content-type: application/json",
                "--data-binary",
                rules,
            ],
        )
    };
    // The bundled page, served from this very address.
    let (code, body) = post(&format!("http://{host}"));
    assert_eq!((code, &body["error"]), (404, &serde_json::json!("not_found")), "{body}");
    // A listed origin.
    let (code, body) = post("https://dashboard.example.org");
    assert_eq!(code, 404, "{body}");
    // Anyone else: a 403 in the API's own shape.
    let (code, body) = post("https://evil.example.net");
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"], "forbidden", "{body}");
}

/// kill -9 in the middle of a job: the store opens again, the job is `interrupted`, a retry
/// completes it, and the video processed before is untouched.
#[test]
fn a_crash_mid_job_leaves_an_interrupted_job_that_can_be_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &[]);
    let (_, first) = server.upload(&media("bikes.mp4"), &[]);
    let first = first["id"].as_str().expect("id").to_string();
    let before = server.wait_status(&first, READY, Duration::from_secs(300));
    assert_eq!(before["status"], "ready");
    let (_, before_stats) = get(&server.url(&format!("/api/videos/{first}/stats")));

    let (_, second) = server.upload(&media("vtest.avi"), &[]);
    let second = second["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    loop {
        let (_, v) = get(&server.url(&format!("/api/videos/{second}")));
        if v["status"] == "processing" && v["frames_done"].as_u64() > Some(20) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGKILL: no chance to clean up.
    let killed = run(Command::new("kill").args(["-9", &server.child.id().to_string()]));
    assert!(killed.status.success());
    server.kill();

    let server = Server::start(dir.path(), &[]);
    let (_, v) = get(&server.url(&format!("/api/videos/{second}")));
    assert_eq!(v["status"], "interrupted", "{v}");
    let (_, again) = get(&server.url(&format!("/api/videos/{first}")));
    assert_eq!(again["status"], "ready");
    assert_eq!(again["detections"], before["detections"]);
    assert_eq!(get(&server.url(&format!("/api/videos/{first}/stats"))).1, before_stats);

    let (code, body) = curl("POST", &server.url(&format!("/api/videos/{second}/retry")), &[]);
    assert_eq!(code, 202, "{body}");
    let done = server.wait_status(&second, READY, Duration::from_secs(600));
    assert_eq!(done["status"], "ready", "{done}");
    let (code, stats) = get(&server.url(&format!("/api/videos/{second}/stats")));
    assert_eq!(code, 200);
    assert_eq!(stats["total_detections"], done["detections"]);
    // A finished job cannot be retried.
    assert_eq!(
        curl("POST", &server.url(&format!("/api/videos/{second}/retry")), &[]).0,
        409
    );
    assert!(Path::new(&server.data).join("store").exists());
}

#[test]
fn the_server_writes_under_its_data_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let spool = data.join("tmp");
    std::fs::create_dir_all(&spool).expect("spool dir");
    std::fs::write(spool.join("leftover"), b"half an upload").expect("leftover");
    let home_var = home.to_string_lossy().into_owned();
    let server = Server::start(&data, &[("HOME", &home_var)]);
    assert!(
        !spool.join("leftover").exists(),
        "an earlier run's spool is cleared at start"
    );
    // Logs written to a file carry no colour codes.
    assert!(!server.log().contains('\u{1b}'), "escape codes in the log file");
    // ONNX Runtime (loaded at start) may keep a device id on disk: whether it does depends on what
    // it detects of the machine (it keeps the id in memory in some containers), so the test holds
    // only where it writes, never that it writes.
    assert!(
        !home.join(".cache/Microsoft").exists(),
        "ONNX Runtime wrote under $HOME"
    );

    // A slow upload: while its body streams in, the server holds its spool file open, and that
    // file is in the data folder, not the system's temp folder.
    let form = format!("file=@{}", media("bikes.mp4").display());
    let mut upload = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--limit-rate", "100k", "-F", &form])
        .arg(server.url("/api/videos"))
        .spawn()
        .expect("curl starts");
    let spool = spool.canonicalize().expect("spool dir");
    let fds = format!("/proc/{}/fd", server.child.id());
    let mut seen = false;
    while !seen && upload.try_wait().expect("curl runs").is_none() {
        seen = std::fs::read_dir(&fds)
            .map(|d| {
                d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .any(|p| p.starts_with(&spool))
            })
            .unwrap_or(false);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(upload.wait().expect("curl ends").success());
    assert!(
        seen,
        "no open file under {} while the upload streamed in",
        spool.display()
    );
}

#[test]
fn every_503_says_when_to_come_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    // More free space wanted than any disk has: the server is alive but not ready.
    let server = Server::start(dir.path(), &[("SIGHTLINE_MIN_FREE_MB", "1048576")]);
    let out = run(Command::new("curl").args(["-s", "-i", &server.url("/readyz")]));
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: "), "{head}");
}
