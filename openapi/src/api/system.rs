//! Liveness and readiness.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};

use super::models::{Health, Readiness};
use crate::state::SharedState;

#[derive(Tags)]
enum ApiTags {
    /// Health of the server.
    System,
}

pub struct SystemApi {
    pub state: SharedState,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Ready to take uploads.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Not ready (no detector worker, or the job queue is full).
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// The process is alive.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health { status: "ok".into() })
    }

    /// The server can take work: detector workers are up and the job queue has room.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> ReadyResponse {
        let st = &self.state;
        let workers = sightline_actors::workers::WorkerLedger::global().available();
        let waiting = st.jobs.waiting();
        let r = Readiness {
            ready: workers > 0 && waiting < st.config.queue_limit,
            workers: workers as u64,
            jobs_running: st.jobs.running() as u64,
            jobs_waiting: waiting as u64,
        };
        if r.ready {
            ReadyResponse::Ready(Json(r))
        } else {
            ReadyResponse::NotReady(Json(r))
        }
    }
}
