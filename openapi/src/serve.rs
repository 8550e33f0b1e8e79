//! Running the HTTP server until it is told to stop.

use poem::listener::TcpListener;

use crate::config::ServerConfig;
use crate::error::ServeError;
use crate::state::SharedState;
use crate::{api, app, metrics, startup};

/// Runs the server until `shutdown` resolves.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    config.validate()?;
    let prometheus = metrics::install().map_err(ServeError::Metrics)?;
    let state = startup::start(config.clone()).await?;
    ingest_sample(&state);
    let app = app::build(state, prometheus);
    tracing::info!("listening on http://{}", config.bind);
    poem::Server::new(TcpListener::bind(config.bind))
        .run_with_graceful_shutdown(app, shutdown, Some(std::time::Duration::from_secs(5)))
        .await
        .map_err(|e| ServeError::Listen(config.bind, e.to_string()))
}

/// On a first start with an empty store, processes the sample video so there is something to see.
fn ingest_sample(state: &SharedState) {
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
