//! Sightline's HTTP side: the OpenAPI-documented API (poem-openapi), HLS file serving, the
//! Prometheus endpoint, and the job queue behind them.
//!
//! ```text
//! serve.rs       runs the server: config check, metrics, start-up, routes, listener
//! http/          connections: caps per server and per client, head and idle deadlines
//! startup.rs     data folders, store, detector workers, cluster coordinator, job queue
//! job_runner.rs  a queued job (or a live source): its record → its spec → the engine
//! live.rs        the live sources running, their limit and their restart with the server;
//!                retention.rs deletes their old detections and events
//! state.rs       what every handler shares
//! app.rs         routes and middleware; api/ the OpenAPI operations; streams.rs HLS files;
//!                web_ui.rs the page; metrics.rs /metrics and HTTP metrics
//! webhooks.rs    events queued for webhooks and the task that delivers them; mqtt.rs events
//!                published to an MQTT broker
//! config.rs      the server's settings and their rules; error.rs why serving failed
//! ```

mod api;
mod app;
pub mod config;
mod disk;
mod error;
mod heap_trim;
mod http;
mod job_key;
mod job_runner;
mod live;
mod metrics;
mod mqtt;
mod notifier;
mod repairs;
mod retention;
mod serve;
mod startup;
mod state;
mod streams;
mod web_ui;
mod webhook_target;
mod webhooks;

pub use config::{ConfigError, LogFormat, ServerConfig};
pub use error::ServeError;
pub use serve::serve;
