//! The OpenAPI-documented part of the HTTP interface.

mod error;
mod events;
mod models;
mod system;
mod videos;

pub use system::SystemApi;
pub(crate) use videos::ingest_file;
pub use videos::VideosApi;
