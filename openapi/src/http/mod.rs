//! The HTTP connection layer under the poem application: admission caps, deadlines, serving,
//! and the access log around every request.

mod access_log;
mod admission;
mod health_probe;
mod idle_timeout;
mod lingering;
pub mod listener;
mod prefixed;
mod route;

pub use access_log::access_log;
pub use listener::{serve, Limits};
pub use route::route_template;
