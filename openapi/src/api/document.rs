//! The OpenAPI document: the operations, who runs the server and under which license, where
//! clients reach it, and which operations need no token.

use poem_openapi::{ContactObject, LicenseObject, OpenApiService, ServerObject};
use serde_json::Value;

use super::{AnalyticsApi, ClusterApi, ExportApi, LiveApi, MotApi, RendersApi, SystemApi, VideosApi, WebhooksApi};
use crate::state::SharedState;

pub type Apis = (
    VideosApi,
    LiveApi,
    RendersApi,
    AnalyticsApi,
    WebhooksApi,
    ExportApi,
    MotApi,
    SystemApi,
    ClusterApi,
);

/// Every operation, described.
pub fn service(state: &SharedState) -> OpenApiService<Apis, ()> {
    let apis = (
        VideosApi { state: state.clone() },
        LiveApi { state: state.clone() },
        RendersApi { state: state.clone() },
        AnalyticsApi { state: state.clone() },
        WebhooksApi { state: state.clone() },
        ExportApi { state: state.clone() },
        MotApi { state: state.clone() },
        SystemApi { state: state.clone() },
        ClusterApi { state: state.clone() },
    );
    OpenApiService::new(apis, "Sightline", env!("CARGO_PKG_VERSION"))
        .description(
            "Server-side video analytics: upload videos, follow their processing, play adaptive HLS with \
             boxes burnt in, and query the stored detections.",
        )
        .server(ServerObject::new(state.config.public_url()).description("This server"))
        .license(LicenseObject::new("Apache-2.0").url("https://www.apache.org/licenses/LICENSE-2.0"))
        .contact(ContactObject::new().name("Sightline maintainers"))
}

/// The document as JSON, finished: an operation without a security requirement says so with an
/// empty list (`security: []`), which poem-openapi leaves out; without it a reader cannot tell
/// "open" from "not stated".
pub fn json(service: &OpenApiService<Apis, ()>) -> String {
    let mut doc: Value = match serde_json::from_str(&service.spec()) {
        Ok(doc) => doc,
        // poem-openapi writes the document itself; it always parses.
        Err(_) => return service.spec(),
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|p| p.values_mut())
        {
            if let Some(op) = operation.as_object_mut() {
                op.entry("security").or_insert_with(|| Value::Array(Vec::new()));
            }
        }
    }
    doc.to_string()
}
