//! The HTTP connection layer under the poem application: admission caps, deadlines, serving.

mod admission;
mod idle_timeout;
pub mod listener;

pub use listener::{serve, Limits};
