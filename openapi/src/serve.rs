//! Running the HTTP server until it is told to stop.

use std::time::Duration;

use poem::EndpointExt;

use crate::config::ServerConfig;
use crate::error::ServeError;
use crate::state::SharedState;
use crate::{api, app, http, metrics, startup};

/// Runs the server until `shutdown` resolves.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    config.validate()?;
    let prometheus = metrics::install().map_err(ServeError::Metrics)?;
    let state = startup::start(config.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| ServeError::Listen(config.bind, e.to_string()))?;
    ingest_sample(&state);
    // Boxed: the middleware stack's type is deeper than the compiler will lay out in a future.
    let app = app::build(state, prometheus).boxed();
    tracing::info!("listening on http://{}", config.bind);
    let limits = http::Limits {
        max_connections: config.max_connections,
        max_connections_per_network: config.connections_per_network(),
        max_connections_per_client: config.max_connections_per_ip,
        header_timeout: Duration::from_secs(config.header_timeout_s),
        idle_timeout: Duration::from_secs(config.idle_timeout_s),
    };
    http::serve(listener, app, limits, shutdown).await;
    Ok(())
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
