//! Slow, silent and greedy clients against a real server with small limits: each is cut off at
//! its deadline or refused over its cap with a JSON 503, and a normal client is served meanwhile.
//! Every client here connects from a loopback address (127.0.0.x) of this machine.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::server::Server;
use common::*;

fn start(dir: &Path, header_s: &str, idle_s: &str, max: &str, per_ip: &str) -> Server {
    Server::start(
        dir,
        &[
            ("SIGHTLINE_HEADER_TIMEOUT_S", header_s),
            ("SIGHTLINE_IDLE_TIMEOUT_S", idle_s),
            ("SIGHTLINE_MAX_CONNECTIONS", max),
            // Every client here is in 127.0.0.0/24: one network may take every slot.
            ("SIGHTLINE_MAX_CONNECTIONS_PER_NETWORK", max),
            ("SIGHTLINE_MAX_CONNECTIONS_PER_IP", per_ip),
        ],
    )
}

fn address(server: &Server) -> SocketAddr {
    server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

/// A connection to `to` from the loopback address `127.0.0.<source>`.
fn connect_from(source: u8, to: SocketAddr) -> TcpStream {
    connect_from_net(0, source, to)
}

/// A connection to `to` from the loopback address `127.0.<net>.<source>`.
fn connect_from_net(net: u8, source: u8, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, net, source], 0)).into())
        .expect("bind a loopback source address");
    socket.connect(&to.into()).expect("connect");
    socket.into()
}

/// Whatever the server sends before `wait` passes or it closes the connection, and whether it closed.
fn read_for(s: &mut TcpStream, wait: Duration) -> (String, bool) {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (String::from_utf8_lossy(&got).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
}

/// `GET /healthz` from `127.0.0.<source>`: the status line.
fn health_from(source: u8, to: SocketAddr) -> String {
    let mut s = connect_from(source, to);
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: sightline\r\nconnection: close\r\n\r\n")
        .expect("request");
    let (text, _) = read_for(&mut s, Duration::from_secs(10));
    text.lines().next().unwrap_or_default().to_string()
}

/// `GET /healthz` from `127.0.0.<source>` on a connection left open: the status line, and the
/// connection, which still holds its slot.
fn health_kept_open(source: u8, to: SocketAddr) -> (String, TcpStream) {
    let mut s = connect_from(source, to);
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: sightline\r\n\r\n")
        .expect("request");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while !text.contains("\r\n\r\n") && Instant::now() < deadline {
        let (more, closed) = read_for(&mut s, Duration::from_millis(200));
        text.push_str(&more);
        if closed {
            break;
        }
    }
    (text.lines().next().unwrap_or_default().to_string(), s)
}

#[test]
fn silent_slow_and_stalled_clients_are_cut_off_and_moving_ones_are_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "2", "2", "64", "32");
    let to = address(&server);

    // A connection that never sends a byte.
    let mut silent = connect_from(1, to);
    let started = Instant::now();
    let (_, closed) = read_for(&mut silent, Duration::from_secs(10));
    assert!(closed, "a silent connection was kept for 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed after {:?}",
        started.elapsed()
    );

    // A request head at a byte every 300 ms: never idle, but its head is late.
    let mut slow = connect_from(1, to);
    let head = b"GET /healthz HTTP/1.1\r\nhost: sightline\r\nuser-agent: one-byte-at-a-time\r\n\r\n";
    let started = Instant::now();
    let mut cut = false;
    for byte in head.iter() {
        if slow.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    if !cut {
        let (text, closed) = read_for(&mut slow, Duration::from_secs(2));
        assert!(closed && !text.contains("200 OK"), "a 24 s head was answered: {text}");
    }
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    // An upload whose body stops arriving.
    let mut stalled = connect_from(1, to);
    stalled
        .write_all(
            b"POST /api/videos HTTP/1.1\r\nhost: sightline\r\ncontent-type: multipart/form-data; boundary=XyZ\r\n\
              content-length: 1000000\r\n\r\n--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n",
        )
        .expect("head");
    stalled.write_all(&[0u8; 4096]).expect("some body");
    let started = Instant::now();
    let (_, closed) = read_for(&mut stalled, Duration::from_secs(10));
    assert!(closed, "a stalled upload was kept for 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed after {:?}",
        started.elapsed()
    );
    let (_, videos) = common::server::get(&server.url("/api/videos"));
    assert_eq!(videos["items"].as_array().map(Vec::len), Some(0), "nothing was stored");

    // A slow upload that keeps moving passes: 8 KB every 500 ms, 4.5 s in all, more than twice
    // the idle timeout.
    let mut body = b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\n\r\n".to_vec();
    body.extend(std::fs::read(media("bikes_1fps.mp4")).expect("clip"));
    body.extend(b"\r\n--XyZ--\r\n");
    let mut slow = connect_from(1, to);
    let head = format!(
        "POST /api/videos HTTP/1.1\r\nhost: sightline\r\ncontent-type: multipart/form-data; boundary=XyZ\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).expect("head");
    for chunk in body.chunks(8192) {
        slow.write_all(chunk)
            .expect("a slow upload that keeps moving is not cut");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (answer, _) = read_for(&mut slow, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
}

#[test]
fn one_client_cannot_take_every_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "30", "30", "30", "10");
    let to = address(&server);

    // A greedy client opens 25 and sends nothing: 10 are held, 15 are told why and closed, once
    // the second they have to show they are health checks has passed. (From an address of its
    // own: the start-up's readiness checks came from 127.0.0.1, and the server may not have
    // counted their connections closed yet.)
    let mut greedy: Vec<TcpStream> = (0..25).map(|_| connect_from(5, to)).collect();
    let mut refused = 0;
    for s in &mut greedy {
        let (text, closed) = read_for(s, Duration::from_millis(2500));
        if closed {
            assert!(text.starts_with("HTTP/1.1 503"), "{text}");
            assert!(
                text.contains("\"error\":\"unavailable\"") && text.contains("127.0.0.5"),
                "{text}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 15, "the client's share is 10");
    // Meanwhile another client is served. Its connection stays open and counts towards the cap:
    // one that closed could still be counted for a moment after the client saw it close.
    let (status, _served) = health_kept_open(2, to);
    assert!(status.contains("200"), "another client was not served: {status}");

    // Fill the rest from two more addresses: then the server is full, for everyone.
    let _more: Vec<TcpStream> = (0..10)
        .map(|_| connect_from(3, to))
        .chain((0..9).map(|_| connect_from(4, to)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut late = connect_from(5, to);
    let (text, closed) = read_for(&mut late, Duration::from_secs(5));
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("as many connections open as it takes"), "{text}");

    // Slots come back as connections close.
    drop(greedy);
    let started = Instant::now();
    while !health_from(5, to).contains("200") {
        assert!(started.elapsed() < Duration::from_secs(10), "no slot came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, metrics) = common::server::curl_raw("GET", &server.url("/metrics"), &[]);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("sightline_http_connections_refused_total{reason=\"per_client\"} 15"),
        "{metrics}"
    );
}

/// The server's resident memory, in KiB.
fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn idle_sockets_from_many_addresses_cannot_lock_out_health_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The defaults: 512 connections, 256 per network, 64 per address.
    let server = Server::start(dir.path(), &[]);
    let to = address(&server);

    // 2,000 idle sockets, 50 from each of 40 addresses of one /24: its share (256) is held, the
    // rest are refused.
    let idle: Vec<TcpStream> = (10..50u8)
        .flat_map(|source| (0..50).map(move |_| connect_from(source, to)))
        .collect();
    assert_eq!(idle.len(), 2000);
    std::thread::sleep(Duration::from_millis(1500));

    // Health checks get through all the while: from another network, and from a crowded address
    // (past the caps), again and again.
    for round in 0..10 {
        let other = health_from_net(1, 1, to);
        assert!(other.contains("200"), "round {round}, another network: {other}");
        let crowded = health_from_net(0, 10, to);
        assert!(crowded.contains("200"), "round {round}, a crowded address: {crowded}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Anything else from the crowded network is refused, saying why and when to come back.
    let mut s = connect_from(11, to);
    s.write_all(b"GET /api/videos HTTP/1.1\r\nhost: sightline\r\n\r\n")
        .expect("request");
    let (text, closed) = read_for(&mut s, Duration::from_secs(5));
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after: "), "{text}");

    // (From another network: this one's share is still taken.)
    let metrics = get_from_net(1, 2, to, "/metrics");
    let count = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        count("sightline_http_connections_refused_total{reason=\"per_network\"}") > 0.0,
        "{metrics}"
    );
    assert!(count("sightline_http_health_past_caps_total") >= 10.0, "{metrics}");
    drop(idle);
}

/// `GET /healthz` from `127.0.<net>.<source>`: the status line.
fn health_from_net(net: u8, source: u8, to: SocketAddr) -> String {
    get_from_net(net, source, to, "/healthz")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `GET path` from `127.0.<net>.<source>`: the whole answer.
fn get_from_net(net: u8, source: u8, to: SocketAddr, path: &str) -> String {
    let mut s = connect_from_net(net, source, to);
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: sightline\r\nconnection: close\r\n\r\n").as_bytes())
        .expect("request");
    read_for(&mut s, Duration::from_secs(10)).0
}

#[test]
fn bodies_over_the_limit_are_refused_before_they_are_parsed_and_memory_stays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[("SIGHTLINE_LOG", "sightline_openapi=debug,info")]);
    // A rules body of 66 MB: 3,000,000 polygon points.
    let points: Vec<String> = (0..3_000_000)
        .map(|i| format!("{{\"x\":0.{},\"y\":0.{}}}", i % 997, i % 991))
        .collect();
    let big = format!(
        "{{\"zones\":[{{\"name\":\"z\",\"polygon\":[{}]}}],\"lines\":[]}}",
        points.join(",")
    );
    assert!(big.len() > 60_000_000, "{}", big.len());
    let file = dir.path().join("rules.json");
    std::fs::write(&file, &big).expect("body");
    let body = format!("@{}", file.display());
    let before = rss_kib(&server);

    for (what, path, chunked) in [
        ("rules, with its length", "/api/videos/0123456789abcdef/rules", false),
        ("rules, chunked", "/api/videos/0123456789abcdef/rules", true),
        ("a webhook, chunked", "/api/webhooks", true),
    ] {
        let mut args = vec!["-H", "content-type: application/json", "--data-binary", &body];
        if chunked {
            args.extend(["-H", "transfer-encoding: chunked"]);
        }
        let method = if path.ends_with("rules") { "PUT" } else { "POST" };
        let (code, v) = common::server::curl(method, &server.url(path), &args);
        assert_eq!(code, 413, "{what}: {v}");
        assert_eq!(v["error"], "too_large", "{what}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains("1024 KiB")),
            "{what}: {v}"
        );
    }
    let after = rss_kib(&server);
    assert!(
        (after as f64) < before as f64 * 1.10,
        "resident memory went from {before} to {after} KiB"
    );

    // Bodies just under the limit are parsed (some 25 MB of values each); the memory they took
    // is handed back afterwards.
    let near: Vec<String> = (0..34_000)
        .map(|i| format!("{{\"x\":0.{},\"y\":0.{}}}", i % 997, i % 991))
        .collect();
    let near = format!(
        "{{\"zones\":[{{\"name\":\"z\",\"polygon\":[{}]}}],\"lines\":[]}}",
        near.join(",")
    );
    assert!(near.len() < 1024 * 1024, "{}", near.len());
    std::fs::write(&file, &near).expect("body");
    for _ in 0..8 {
        let args = ["-H", "content-type: application/json", "--data-binary", &body];
        let (code, v) = common::server::curl("PUT", &server.url("/api/videos/0123456789abcdef/rules"), &args);
        assert_eq!(code, 404, "parsed, then no such video: {v}");
    }
    let started = Instant::now();
    while rss_kib(&server) as f64 >= before as f64 * 1.10 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "resident memory stayed at {} KiB (from {before}); {}",
            rss_kib(&server),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(common::server::get(&server.url("/healthz")).0, 200);
}

#[test]
fn refusals_reach_a_client_that_is_still_sending() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "30", "30", "30", "2");
    let to = address(&server);

    // A body over the limit, sent without waiting for 100 Continue: the 413 is read, not reset.
    let mut s = connect_from(7, to);
    s.write_all(
        b"POST /api/webhooks HTTP/1.1\r\nhost: sightline\r\ncontent-type: application/json\r\n\
          content-length: 3000000\r\n\r\n",
    )
    .expect("head");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..(3_000_000 / chunk.len()) {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    let (text, _) = read_for(&mut s, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    // A connection over the client's cap, sending a body at once: the 503 is read, not reset.
    let _held: Vec<TcpStream> = (0..2).map(|_| connect_from(8, to)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut s = connect_from(8, to);
    s.write_all(b"POST /api/webhooks HTTP/1.1\r\nhost: sightline\r\ncontent-length: 500000\r\n\r\n")
        .expect("head");
    for _ in 0..(500_000 / chunk.len()) {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    let (text, closed) = read_for(&mut s, Duration::from_secs(5));
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
}
