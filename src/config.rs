//! Loading the server's settings: built-in defaults, then `sightline.toml` (or `--config`), then
//! `SIGHTLINE_*` environment variables, then command-line flags — each overriding the last.

use std::path::Path;

use anyhow::{bail, Context};
use sightline_openapi::ServerConfig;

/// Keys that may also come from the environment as `SIGHTLINE_<KEY>` (upper case).
const KEYS: [&str; 54] = [
    "bind",
    "data_dir",
    "max_upload_mb",
    "max_body_kb",
    "log_format",
    "max_connections",
    "max_connections_per_network",
    "max_connections_per_ip",
    "min_free_mb",
    "header_timeout_s",
    "idle_timeout_s",
    "max_width",
    "max_height",
    "max_pixels",
    "max_aspect_ratio",
    "min_fps",
    "max_fps",
    "max_duration_s",
    "max_jobs",
    "queue_limit",
    "max_live_sources",
    "live_dvr_segments",
    "live_max_attempts",
    "retention_days",
    "api_token",
    "cors_origins",
    "public_url",
    "webhook_max_attempts",
    "webhook_outbox_max",
    "webhook_allow_private",
    "webhook_allow_networks",
    "mqtt_url",
    "model",
    "names",
    "ort_lib",
    "workers",
    "threads",
    "confidence",
    "iou",
    "every",
    "window",
    "segment_seconds",
    "preset",
    "sample_video",
    "web_dir",
    "detect_deadline_s",
    "cluster_enabled",
    "cluster_listen",
    "cluster_cookie",
    "cluster_tls_cert",
    "cluster_tls_key",
    "cluster_tls_client_ca",
    "cluster_heartbeat_ms",
    "cluster_drop_after_s",
];

/// `SIGHTLINE_*` variables read elsewhere: the log filter, and the setup scripts' cache folder.
const NOT_SETTINGS: [&str; 2] = ["log", "cache"];

/// Reads the settings. `file` is the config file (an explicit one must exist; the default
/// `sightline.toml` is optional); `flags` are the command line's settings, already as TOML values.
pub fn load(
    file: Option<&Path>,
    env: impl Iterator<Item = (String, String)>,
    flags: toml::Table,
) -> anyhow::Result<ServerConfig> {
    let mut table = toml::Table::new();
    let default_file = Path::new("sightline.toml");
    let path = file.unwrap_or(default_file);
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        table = text
            .parse::<toml::Table>()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
    } else if file.is_some() {
        bail!("config file {} does not exist", path.display());
    }
    for (name, value) in env {
        let Some(key) = name.strip_prefix("SIGHTLINE_").map(str::to_ascii_lowercase) else {
            continue;
        };
        if NOT_SETTINGS.contains(&key.as_str()) {
            continue;
        }
        if !KEYS.contains(&key.as_str()) {
            let known: Vec<String> = KEYS.iter().map(|k| format!("SIGHTLINE_{}", k.to_uppercase())).collect();
            bail!("unknown setting {name}; known: {}", known.join(", "));
        }
        table.insert(key, env_value(&value));
    }
    table.extend(flags);
    let config: ServerConfig = table
        .try_into()
        // The error's text names the key (`in \`preset\``); its bare message does not.
        .map_err(|e: toml::de::Error| {
            anyhow::anyhow!("invalid configuration: {}", e.to_string().trim_end().replace('\n', " "))
        })?;
    config.validate()?;
    Ok(config)
}

/// An environment value as TOML: a number, boolean or list when it reads as one, else a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "max_jobs = 2\nworkers = 3\npreset = \"superfast\"\n").expect("write");
        let mut flags = toml::Table::new();
        flags.insert("workers".into(), toml::Value::Integer(4));
        let c = load(Some(&file), env(&[("SIGHTLINE_MAX_JOBS", "5"), ("HOME", "/x")]), flags).expect("loads");
        assert_eq!((c.max_jobs, c.workers, c.preset.as_str()), (5, 4, "superfast"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = load(None, env(&[("SIGHTLINE_WORKERS", "65")]), toml::Table::new()).unwrap_err();
        assert!(e.to_string().contains("workers"), "{e}");
        let e = load(None, env(&[("SIGHTLINE_BOGUS", "1")]), toml::Table::new()).unwrap_err();
        assert!(e.to_string().contains("unknown setting SIGHTLINE_BOGUS"), "{e}");
        let e = load(Some(Path::new("/nonexistent.toml")), env(&[]), toml::Table::new()).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = load(None, env(&[("SIGHTLINE_BIND", "nowhere")]), toml::Table::new()).unwrap_err();
        assert!(e.to_string().contains("invalid configuration"), "{e}");
        let e = load(None, env(&[("SIGHTLINE_PRESET", "placebo")]), toml::Table::new()).unwrap_err();
        assert!(
            e.to_string().contains("`preset`") && e.to_string().contains("placebo"),
            "{e}"
        );
    }

    #[test]
    fn env_values_keep_their_types() {
        assert_eq!(env_value("3"), toml::Value::Integer(3));
        assert_eq!(env_value("0.5"), toml::Value::Float(0.5));
        assert_eq!(
            env_value("127.0.0.1:8080"),
            toml::Value::String("127.0.0.1:8080".into())
        );
        assert_eq!(
            env_value("[\"a\"]"),
            toml::Value::Array(vec![toml::Value::String("a".into())])
        );
    }
}
