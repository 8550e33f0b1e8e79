//! The server's settings, with their defaults and validation. Loading (file, environment, flags)
//! is the binary's job; this is the shape and the rules.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sightline_actors::job::{EngineSettings, JobOptions, OptionError, Preset};
use sightline_actors::media::InputLimits;

/// How log lines look: text for people, one JSON object per line for log shippers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("'{other}' is not a log format: text or json")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server listens on. Loopback by default.
    pub bind: SocketAddr,
    /// Store, uploads and streams live here.
    pub data_dir: PathBuf,
    /// Largest upload accepted, in MiB, enforced while the body streams in.
    pub max_upload_mb: u64,
    /// Largest body of any other request (the JSON of rules, webhooks, live sources, renders),
    /// in KiB, enforced while it streams in, before it is parsed.
    pub max_body_kb: u64,
    /// How log lines look (`--log-format` and `SIGHTLINE_LOG_FORMAT` override it).
    pub log_format: LogFormat,
    /// HTTP connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// HTTP connections one client network (an IPv4 /24, an IPv6 /64) may hold, so one client
    /// with many addresses cannot take every slot; unset: half of `max_connections`.
    pub max_connections_per_network: Option<usize>,
    /// HTTP connections one client address may hold, so one client cannot take every slot.
    pub max_connections_per_ip: usize,
    /// MiB that must stay free in the data folder: below it uploads are refused (507), jobs do
    /// not start and `/readyz` is 503. 0 turns the check off.
    pub min_free_mb: u64,
    /// Seconds a client has to send a request's head (line and headers), once it has begun.
    pub header_timeout_s: u64,
    /// Seconds a connection may pass without a byte either way (idle keep-alive, a stalled
    /// upload) before it is closed.
    pub idle_timeout_s: u64,
    /// What uploads are accepted: picture size and shape, frame rate, length (see [`InputLimits`]).
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub max_aspect_ratio: f64,
    pub min_fps: f64,
    pub max_fps: f64,
    pub max_duration_s: u64,
    /// Jobs processed at once.
    pub max_jobs: usize,
    /// Jobs waiting beyond those; more are refused with 503.
    pub queue_limit: usize,
    /// Live sources running at once (beside the jobs); more are refused with 409. 0: none.
    pub max_live_sources: usize,
    /// Segments a live source's playlists list (its DVR window); older ones are deleted.
    pub live_dvr_segments: usize,
    /// Attempts in a row after which a live source that never delivered a frame ends `failed`.
    pub live_max_attempts: u32,
    /// Days a live source's detections and events are kept (fractions allowed); 0: for ever.
    pub retention_days: f64,
    /// When set, every mutating request must carry `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// Origins allowed by CORS; empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Attempts at one webhook delivery before it is given up (the waits between them double
    /// from 1 s, up to 10 min).
    pub webhook_max_attempts: usize,
    /// Webhook deliveries waiting at most; beyond it the oldest are dropped (counted, logged),
    /// so a dead receiver cannot grow the store without limit.
    pub webhook_outbox_max: usize,
    /// Whether webhooks may point at loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
    /// shared (100.64/10), link-local (169.254/16, fe80::/10), unspecified, multicast and
    /// broadcast addresses, IPv4-mapped forms included. Off: such targets are refused when a
    /// webhook is created and again before each delivery connects (DNS can change).
    pub webhook_allow_private: bool,
    /// Networks (CIDR, e.g. `10.1.2.0/24`) webhooks may reach although they are private, while
    /// `webhook_allow_private` is off.
    pub webhook_allow_networks: Vec<String>,
    /// An MQTT broker (`mqtt://[user:password@]host[:port]`) to publish events to; unset: none.
    pub mqtt_url: Option<String>,
    /// The address clients reach the server at (behind a proxy: the proxy's), as the OpenAPI
    /// document's `servers` states it; unset: `http://<bind>`.
    pub public_url: Option<String>,
    pub model: PathBuf,
    pub names: Option<PathBuf>,
    pub ort_lib: PathBuf,
    /// Local detector workers and intra-op threads each; 0 workers leaves detection to worker nodes.
    pub workers: usize,
    pub threads: usize,
    /// Defaults of an upload's options.
    pub confidence: f32,
    pub iou: f32,
    pub every: u64,
    pub window: usize,
    pub segment_seconds: f64,
    pub preset: Preset,
    /// Video processed on a first start with an empty store, so there is something to see.
    pub sample_video: Option<PathBuf>,
    /// The web page's folder (index.html, app.js, style.css, node_modules/hls.js).
    pub web_dir: PathBuf,
    /// Seconds a detection request may take (worker queueing included) before it is sent again.
    pub detect_deadline_s: f64,
    /// Whether worker nodes may join (`sightline worker --join <cluster_listen>`).
    pub cluster_enabled: bool,
    /// Address the cluster's node server listens on. Loopback by default.
    pub cluster_listen: SocketAddr,
    /// The shared cookie; when unset, one is generated into `<data_dir>/cluster.cookie`.
    pub cluster_cookie: Option<String>,
    /// TLS for cluster links: the coordinator's certificate chain and key (PEM), both or neither.
    pub cluster_tls_cert: Option<PathBuf>,
    pub cluster_tls_key: Option<PathBuf>,
    /// With TLS: the CA (PEM) that must have signed each worker's certificate; unset, workers
    /// present none.
    pub cluster_tls_client_ca: Option<PathBuf>,
    /// How often worker nodes send a heartbeat; one silent for 3 intervals is suspect.
    pub cluster_heartbeat_ms: u64,
    /// Seconds without a heartbeat after which a node is disconnected (it may then reconnect and
    /// join again); also how long a new connection may take to join (10 s at least).
    pub cluster_drop_after_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let limits = InputLimits::default();
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            max_upload_mb: 1024,
            max_body_kb: 1024,
            log_format: LogFormat::Text,
            max_connections: 512,
            max_connections_per_network: None,
            max_connections_per_ip: 64,
            min_free_mb: 256,
            header_timeout_s: 30,
            idle_timeout_s: 60,
            max_width: limits.max_width,
            max_height: limits.max_height,
            max_pixels: limits.max_pixels,
            max_aspect_ratio: limits.max_aspect_ratio,
            min_fps: limits.min_fps,
            max_fps: limits.max_fps,
            max_duration_s: limits.max_duration_s,
            max_jobs: 1,
            queue_limit: 16,
            max_live_sources: 4,
            live_dvr_segments: 30,
            live_max_attempts: 5,
            retention_days: 7.0,
            api_token: None,
            cors_origins: Vec::new(),
            public_url: None,
            webhook_max_attempts: 8,
            webhook_outbox_max: 10_000,
            webhook_allow_private: false,
            webhook_allow_networks: Vec::new(),
            mqtt_url: None,
            model: PathBuf::from(".cache/models/yolov4-tiny-int8.onnx"),
            names: None,
            ort_lib: sightline_actors::detect::default_library_path(),
            workers: 2,
            threads: 1,
            confidence: 0.25,
            iou: 0.45,
            every: 1,
            window: 8,
            segment_seconds: 2.0,
            preset: Preset::default(),
            sample_video: None,
            web_dir: PathBuf::from("web"),
            detect_deadline_s: 10.0,
            cluster_enabled: true,
            cluster_listen: SocketAddr::from(([127, 0, 0, 1], 4697)),
            cluster_cookie: None,
            cluster_tls_cert: None,
            cluster_tls_key: None,
            cluster_tls_client_ca: None,
            cluster_heartbeat_ms: 500,
            cluster_drop_after_s: 30,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid setting `{key}`: {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

impl From<OptionError> for ConfigError {
    fn from(e: OptionError) -> Self {
        ConfigError {
            key: e.field,
            message: e.message,
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, message: String| Err(ConfigError { key, message });
        if !(1..=1_048_576).contains(&self.max_upload_mb) {
            return err("max_upload_mb", format!("{} is outside 1..1048576", self.max_upload_mb));
        }
        if !(1..=1_048_576).contains(&self.max_body_kb) {
            return err("max_body_kb", format!("{} is outside 1..1048576", self.max_body_kb));
        }
        if !(1..=65_536).contains(&self.max_connections) {
            return err(
                "max_connections",
                format!("{} is outside 1..65536", self.max_connections),
            );
        }
        if !(1..=self.max_connections).contains(&self.max_connections_per_ip) {
            return err(
                "max_connections_per_ip",
                format!(
                    "{} is outside 1..{} (max_connections)",
                    self.max_connections_per_ip, self.max_connections
                ),
            );
        }
        if let Some(n) = self.max_connections_per_network {
            if !(self.max_connections_per_ip..=self.max_connections).contains(&n) {
                return err(
                    "max_connections_per_network",
                    format!(
                        "{n} is outside {}..{} (max_connections_per_ip..max_connections)",
                        self.max_connections_per_ip, self.max_connections
                    ),
                );
            }
        }
        if self.min_free_mb > 1_048_576 {
            return err("min_free_mb", format!("{} is outside 0..1048576", self.min_free_mb));
        }
        if !(1..=600).contains(&self.header_timeout_s) {
            return err(
                "header_timeout_s",
                format!("{} is outside 1..600", self.header_timeout_s),
            );
        }
        if !(1..=3600).contains(&self.idle_timeout_s) {
            return err("idle_timeout_s", format!("{} is outside 1..3600", self.idle_timeout_s));
        }
        self.input_limits().validate().map_err(|e| ConfigError {
            key: e.key,
            message: e.message,
        })?;
        if !(1..=64).contains(&self.max_jobs) {
            return err("max_jobs", format!("{} is outside 1..64", self.max_jobs));
        }
        if !(1..=10_000).contains(&self.queue_limit) {
            return err("queue_limit", format!("{} is outside 1..10000", self.queue_limit));
        }
        if self.max_live_sources > 64 {
            return err(
                "max_live_sources",
                format!("{} is outside 0..64", self.max_live_sources),
            );
        }
        if !(3..=10_000).contains(&self.live_dvr_segments) {
            return err(
                "live_dvr_segments",
                format!("{} is outside 3..10000", self.live_dvr_segments),
            );
        }
        if !(1..=1000).contains(&self.live_max_attempts) {
            return err(
                "live_max_attempts",
                format!("{} is outside 1..1000", self.live_max_attempts),
            );
        }
        if !(0.0..=3650.0).contains(&self.retention_days) {
            return err("retention_days", format!("{} is outside 0..3650", self.retention_days));
        }
        if self.workers > 64 {
            return err("workers", format!("{} is outside 0..64", self.workers));
        }
        if self.workers == 0 && !self.cluster_enabled {
            return err(
                "workers",
                "0 local workers needs cluster_enabled = true: only worker nodes would detect".into(),
            );
        }
        if !(1..=64).contains(&self.threads) {
            return err("threads", format!("{} is outside 1..64", self.threads));
        }
        // The job defaults obey the same ranges as every upload's options.
        self.job_defaults().validate(&[])?;
        self.engine_settings().validate()?;
        if !(0.5..=600.0).contains(&self.detect_deadline_s) {
            return err(
                "detect_deadline_s",
                format!("{} is outside 0.5..600", self.detect_deadline_s),
            );
        }
        if !(50..=10_000).contains(&self.cluster_heartbeat_ms) {
            return err(
                "cluster_heartbeat_ms",
                format!("{} is outside 50..10000", self.cluster_heartbeat_ms),
            );
        }
        if !(1..=86_400).contains(&self.cluster_drop_after_s)
            || self.cluster_drop_after_s * 1000 <= 3 * self.cluster_heartbeat_ms
        {
            return err(
                "cluster_drop_after_s",
                format!(
                    "{} must be in 1..86400 and longer than 3 heartbeat intervals ({} ms)",
                    self.cluster_drop_after_s,
                    3 * self.cluster_heartbeat_ms
                ),
            );
        }
        if let Some(cookie) = &self.cluster_cookie {
            sightline_cluster::cookie::validate(cookie).map_err(|message| ConfigError {
                key: "cluster_cookie",
                message,
            })?;
        }
        if self.cluster_tls_cert.is_some() != self.cluster_tls_key.is_some() {
            return err(
                "cluster_tls_cert",
                "cluster_tls_cert and cluster_tls_key are set together or not at all".into(),
            );
        }
        if self.cluster_tls_client_ca.is_some() && self.cluster_tls_cert.is_none() {
            return err(
                "cluster_tls_client_ca",
                "needs cluster_tls_cert and cluster_tls_key: client certificates are checked over TLS".into(),
            );
        }
        if self.api_token.as_ref().is_some_and(|t| t.len() < 16) {
            return err("api_token", "must be at least 16 characters".into());
        }
        if !(1..=50).contains(&self.webhook_max_attempts) {
            return err(
                "webhook_max_attempts",
                format!("{} is outside 1..50", self.webhook_max_attempts),
            );
        }
        if !(1..=1_000_000).contains(&self.webhook_outbox_max) {
            return err(
                "webhook_outbox_max",
                format!("{} is outside 1..1000000", self.webhook_outbox_max),
            );
        }
        crate::webhook_target::parse_networks(&self.webhook_allow_networks).map_err(|message| ConfigError {
            key: "webhook_allow_networks",
            message,
        })?;
        if let Some(url) = &self.mqtt_url {
            check_mqtt_url(url).or_else(|why| err("mqtt_url", why))?;
        }
        if let Some(url) = &self.public_url {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.ends_with('/') || url.contains(char::is_whitespace) {
                return err(
                    "public_url",
                    format!("'{url}' must be an http:// or https:// address without a trailing /"),
                );
            }
        }
        Ok(())
    }

    /// Where clients reach the server: `public_url`, or the address it is bound to.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb * 1024 * 1024
    }

    /// Connections one client network may hold: as set, or half of all (never fewer than one
    /// address may hold).
    pub fn connections_per_network(&self) -> usize {
        self.max_connections_per_network
            .unwrap_or((self.max_connections / 2).max(self.max_connections_per_ip))
    }

    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_kb * 1024
    }

    /// An upload's options where it chooses none.
    pub fn job_defaults(&self) -> JobOptions {
        JobOptions {
            confidence: self.confidence,
            iou: self.iou,
            classes: Vec::new(),
            every: self.every,
        }
    }

    /// What an upload must be within to become a job.
    pub fn input_limits(&self) -> InputLimits {
        InputLimits {
            max_width: self.max_width,
            max_height: self.max_height,
            max_pixels: self.max_pixels,
            max_aspect_ratio: self.max_aspect_ratio,
            min_fps: self.min_fps,
            max_fps: self.max_fps,
            max_duration_s: self.max_duration_s,
        }
    }

    /// What this server applies to every job.
    /// How long live sources' detections are kept; `None`: for ever.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (self.retention_days > 0.0).then(|| std::time::Duration::from_secs_f64(self.retention_days * 86_400.0))
    }

    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            window: self.window,
            segment_seconds: self.segment_seconds,
            preset: self.preset,
            request_timeout: std::time::Duration::from_secs_f64(self.detect_deadline_s),
            ..EngineSettings::default()
        }
    }
}

/// Why an MQTT broker address cannot be used: plain `mqtt://` (or `tcp://`) with a host and an
/// optional port in 1..65535.
pub fn check_mqtt_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.rsplit('@').next().unwrap_or("").split('/').next().unwrap_or("");
    // An IPv6 host is bracketed: its colons are not the port's.
    let port_at = authority.rfind(':').filter(|&i| !authority[i..].contains(']'));
    let (host, port) = match port_at {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    match scheme {
        "mqtt" | "tcp" if !host.is_empty() => match port.map(|p| p.parse::<u16>()) {
            None | Some(Ok(1..)) => Ok(()),
            Some(_) => Err(format!(
                "'{url}': the port must be a number in 1..65535 (1883 when left out)"
            )),
        },
        "mqtts" | "ssl" => Err(format!("'{url}': TLS to the broker is not supported yet; use mqtt://")),
        _ => Err(format!(
            "'{url}': a broker's address is mqtt://[user:password@]host[:port]"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = ServerConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert!(c.bind.ip().is_loopback());
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = ServerConfig {
            every: 0,
            ..ServerConfig::default()
        };
        assert_eq!(c.validate().map_err(|e| e.key), Err("every"));
        let c = ServerConfig {
            confidence: 2.0,
            ..ServerConfig::default()
        };
        assert_eq!(c.validate().map_err(|e| e.key), Err("confidence"));
        let c = ServerConfig {
            api_token: Some("short".into()),
            ..ServerConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("api_token"));
        // A node may not be dropped before it could even be suspect.
        let c = ServerConfig {
            cluster_heartbeat_ms: 1000,
            cluster_drop_after_s: 3,
            ..ServerConfig::default()
        };
        assert_eq!(c.validate().map_err(|e| e.key), Err("cluster_drop_after_s"));
        // Without local workers, only worker nodes detect: the cluster must be on.
        let c = ServerConfig {
            workers: 0,
            cluster_enabled: false,
            ..ServerConfig::default()
        };
        assert_eq!(c.validate().map_err(|e| e.key), Err("workers"));
        let c = ServerConfig {
            workers: 0,
            ..ServerConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
        let c = ServerConfig {
            cluster_tls_client_ca: Some("ca.pem".into()),
            ..ServerConfig::default()
        };
        assert_eq!(c.validate().map_err(|e| e.key), Err("cluster_tls_client_ca"));
        for url in ["video.example.org", "https://video.example.org/", "ftp://x"] {
            let c = ServerConfig {
                public_url: Some(url.into()),
                ..ServerConfig::default()
            };
            assert_eq!(c.validate().map_err(|e| e.key), Err("public_url"), "{url}");
        }
        assert_eq!(ServerConfig::default().public_url(), "http://127.0.0.1:8080");
        for url in [
            "mqtts://broker",
            "http://broker",
            "broker:1883",
            "mqtt://",
            "mqtt://127.0.0.1:99999",
            "mqtt://127.0.0.1:0",
            "mqtt://broker:x",
        ] {
            let c = ServerConfig {
                mqtt_url: Some(url.into()),
                ..ServerConfig::default()
            };
            assert_eq!(c.validate().map_err(|e| e.key), Err("mqtt_url"), "{url}");
        }
        assert_eq!(check_mqtt_url("mqtt://user:pw@127.0.0.1:1883"), Ok(()));
        assert_eq!(check_mqtt_url("mqtt://broker"), Ok(()));
        assert_eq!(check_mqtt_url("mqtt://[::1]"), Ok(()));
        assert_eq!(check_mqtt_url("mqtt://[::1]:1884"), Ok(()));
    }

    #[test]
    fn webhook_networks_must_be_networks() {
        let c = ServerConfig {
            webhook_allow_networks: vec!["127.0.0.0/8".into(), "fd00::/8".into(), "10.1.2.3".into()],
            ..ServerConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
        let c = ServerConfig {
            webhook_allow_networks: vec!["10.0.0.0/8".into(), "10.0.0.0/40".into()],
            ..ServerConfig::default()
        };
        let e = c.validate().expect_err("a bad prefix");
        assert_eq!(e.key, "webhook_allow_networks");
        assert!(e.to_string().contains("'10.0.0.0/40'"), "{e}");
    }

    #[test]
    fn an_unknown_preset_is_refused_when_read() {
        let parsed: Result<ServerConfig, _> = serde_json::from_str(r#"{"preset": "placebo"}"#);
        let e = parsed.unwrap_err().to_string();
        assert!(e.contains("placebo") && e.contains("veryfast"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed: Result<ServerConfig, _> = serde_json::from_str(r#"{"bnid": "127.0.0.1:1"}"#);
        assert!(parsed.is_err());
    }
}
