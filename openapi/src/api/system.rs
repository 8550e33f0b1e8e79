//! Liveness and readiness.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};

use super::models::{Health, Liveness, Readiness};
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
    /// Not ready: no detector worker, a full job queue, too little free space, or a store that
    /// does not take writes (`reason` says which).
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Check that the process is alive.
    ///
    /// Always 200 while the process answers; see `getReadiness` for whether it can take work.
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health { status: Liveness::Ok })
    }

    /// Check that the server can take work.
    ///
    /// 200 when detector workers are up, the job queue has room, the data folder has free space
    /// and the store takes writes; 503 with `reason` otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "getReadiness")]
    async fn readyz(&self) -> ReadyResponse {
        let st = &self.state;
        let workers = sightline_actors::workers::WorkerLedger::global().available();
        let waiting = st.jobs.waiting();
        let store = st.store.clone();
        let writable = tokio::task::spawn_blocking(move || store.check_writable())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let space = st.disk.check();
        let reason = if workers == 0 {
            Some("no detector worker is available".to_string())
        } else if waiting >= st.config.queue_limit {
            Some(format!("the job queue is full ({waiting} waiting)"))
        } else if let Err(low) = &space {
            Some(low.to_string())
        } else if let Err(e) = &writable {
            Some(format!("the store does not take writes: {e}"))
        } else {
            None
        };
        let r = Readiness {
            ready: reason.is_none(),
            workers: workers as u64,
            jobs_running: st.jobs.running() as u64,
            jobs_waiting: waiting as u64,
            free_mb: st.disk.free_mb().unwrap_or(0),
            min_free_mb: st.disk.min_free_mb(),
            store_writable: writable.is_ok(),
            unrecorded_jobs: st.repairs.len() as u64,
            reason,
        };
        if r.ready {
            ReadyResponse::Ready(Json(r))
        } else {
            ReadyResponse::NotReady(Json(r))
        }
    }
}
