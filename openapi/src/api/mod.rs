//! The OpenAPI-documented part of the HTTP interface.

mod analytics;
mod auth;
mod cluster;
pub(crate) mod document;
pub(crate) mod error;
mod events;
mod export;
mod failure;
mod live;
mod models;
mod renders;
mod rules_body;
mod system;
mod video_id;
mod videos;
mod webhooks;

pub(crate) use analytics::event_view as analytics_event_view;
pub use analytics::AnalyticsApi;
pub use cluster::ClusterApi;
pub use export::{ExportApi, MotApi};
pub use live::LiveApi;
pub use renders::RendersApi;
pub use system::SystemApi;
pub(crate) use videos::ingest_file;
pub use videos::VideosApi;
pub use webhooks::WebhooksApi;
