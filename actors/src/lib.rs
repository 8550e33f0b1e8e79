//! Sightline's processing engine.

pub mod detect;
pub mod detector_worker;
