//! A real `sightline serve` process for end-to-end tests, and a small curl-based HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{root, run, sightline};

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
    /// Where worker nodes join.
    pub cluster: String,
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Server {
    /// Starts a server on free ports (HTTP and cluster) with `data` as its data folder and extra
    /// environment; its log goes to `data/server.log`.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with_cluster(data, &format!("127.0.0.1:{}", free_port()), env)
    }

    /// Like [`Server::start`], with the cluster's node server on `cluster` (a restart keeps it).
    pub fn start_with_cluster(data: &Path, cluster: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::File::create(data.join("server.log")).expect("server log");
        // An empty config file and no inherited SIGHTLINE_* variables: a developer's own settings
        // stay out of the test; only `env` configures the server.
        let config = data.join("test-config.toml");
        std::fs::write(&config, "").expect("config file");
        let mut cmd = sightline();
        for (key, _) in std::env::vars() {
            if key.starts_with("SIGHTLINE_") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data")
            .arg(data)
            .arg("--config")
            .arg(&config)
            .env("SIGHTLINE_CLUSTER_LISTEN", cluster)
            .env("SIGHTLINE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("server starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            cluster: cluster.to_string(),
        };
        let started = Instant::now();
        while get(&server.url("/healthz")).0 != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }

    /// Waits until the server's log says `text` (log lines may trail the state the API shows).
    pub fn wait_log(&self, text: &str, timeout: Duration) {
        wait_for_text("the server", || self.log(), text, timeout);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Uploads a file; returns status and JSON body.
    pub fn upload(&self, file: &Path, fields: &[&str]) -> (u16, Value) {
        let mut args = vec!["-F".to_string(), format!("file=@{}", file.display())];
        for f in fields {
            args.push("-F".into());
            args.push(f.to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl("POST", &self.url("/api/videos"), &args)
    }

    /// Polls a video until its status is one of `want`, returning the record.
    pub fn wait_status(&self, id: &str, want: &[&str], timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (code, v) = get(&self.url(&format!("/api/videos/{id}")));
            assert_eq!(code, 200, "{v}");
            if want.iter().any(|w| v["status"] == *w) {
                return v;
            }
            assert!(started.elapsed() < timeout, "video {id} stuck at {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `method` `path` with a JSON body.
    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        curl(
            method,
            &self.url(path),
            &["-H", "content-type: application/json", "--data-binary", &body],
        )
    }

    /// Polls an accepted re-render until it is ready or failed.
    pub fn wait_render(&self, accepted: &Value) -> Value {
        let url = self.url(accepted["url"].as_str().expect("render url"));
        let started = Instant::now();
        loop {
            let (_, r) = get(&url);
            if r["status"] == "ready" || r["status"] == "failed" {
                return r;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "{r}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `read()` holds `text`; fails showing what `who` wrote.
pub fn wait_for_text(who: &str, read: impl Fn() -> String, text: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let got = read();
        if got.contains(text) {
            return;
        }
        assert!(started.elapsed() < timeout, "{who} did not log '{text}':\n{got}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request through curl: status code and body parsed as JSON (Null when it is not JSON).
pub fn curl(method: &str, url: &str, args: &[&str]) -> (u16, Value) {
    let (code, body) = curl_raw(method, url, args);
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub fn curl_raw(method: &str, url: &str, args: &[&str]) -> (u16, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let body_path = dir.path().join("body");
    let out = run(Command::new("curl")
        .current_dir(root())
        .args(["-s", "-X", method, "-o"])
        .arg(&body_path)
        // Wait for the server's 100 Continue before sending a body: an early answer (401, 413)
        // then arrives before any body is sent, instead of racing a half-sent upload.
        .args(["-w", "%{http_code}", "--max-time", "120", "--expect100-timeout", "60"])
        .args(args)
        .arg(url));
    let code = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    (code, std::fs::read(&body_path).unwrap_or_default())
}

pub fn get(url: &str) -> (u16, Value) {
    curl("GET", url, &[])
}
