//! Sightline's HTTP side: the OpenAPI-documented API (poem-openapi), HLS file serving, the
//! Prometheus endpoint, and the job queue behind them.

mod api;
mod app;
pub mod config;
mod metrics;
mod state;
mod streams;
mod web_ui;

use std::path::PathBuf;

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::{IntoResponse, Response};

pub use config::{ConfigError, ServerConfig};
use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot use the data folder {0}: {1}")]
    DataDir(PathBuf, String),
    #[error(transparent)]
    Store(#[from] sightline_actors::store::StoreError),
    #[error("cannot start the detector: {0}")]
    Engine(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error(transparent)]
    Cluster(#[from] sightline_cluster::ClusterError),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, String),
}

/// A JSON error response outside the OpenAPI operations (middleware, file serving).
pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message });
    poem::web::Json(body).with_status(status).into_response()
}

/// Runs the server until `shutdown` resolves.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    config.validate()?;
    let prometheus = metrics::install().map_err(ServeError::Metrics)?;
    let state = AppState::start(config.clone()).await?;
    ingest_sample(&state);
    let app = app::build(state, prometheus);
    tracing::info!("listening on http://{}", config.bind);
    poem::Server::new(TcpListener::bind(config.bind))
        .run_with_graceful_shutdown(app, shutdown, Some(std::time::Duration::from_secs(5)))
        .await
        .map_err(|e| ServeError::Listen(config.bind, e.to_string()))
}

/// On a first start with an empty store, processes the sample video so there is something to see.
fn ingest_sample(state: &state::SharedState) {
    let Some(sample) = state.config.sample_video.clone() else {
        return;
    };
    let empty = state
        .store
        .list_videos(None, 1)
        .map(|p| p.items.is_empty())
        .unwrap_or(false);
    if !empty || !sample.is_file() {
        return;
    }
    match api::ingest_file(state, &sample) {
        Ok(id) => tracing::info!(
            "first start: processing the sample video {} as {id}; watch it at http://{}/ (API: /api/videos/{id})",
            sample.display(),
            state.config.bind
        ),
        Err(e) => tracing::warn!("could not ingest the sample video {}: {e}", sample.display()),
    }
}
