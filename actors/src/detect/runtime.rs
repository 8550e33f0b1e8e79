//! Loading the ONNX Runtime shared library, once per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use super::DetectError;

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading `library` on first use. Later calls reuse
/// the library loaded first, whatever path they name (ONNX Runtime cannot be loaded twice).
pub fn environment(library: &Path) -> Result<Environment, DetectError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    // ort would report a missing file as a generic dlopen failure; say what to do instead.
    if !library.is_file() {
        return Err(DetectError::RuntimeMissing {
            path: library.to_path_buf(),
        });
    }
    let load_err = |e: &dyn std::fmt::Display| DetectError::RuntimeLoad {
        path: library.to_path_buf(),
        message: e.to_string(),
    };
    let env = ort::init_from(library)
        .map_err(|e| load_err(&e))?
        .with_name("sightline")
        // A server's model runs are its users' business: no events leave the machine.
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(&e))?;
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}

/// Where `make setup` puts the library, relative to the project root.
pub fn default_library_path() -> PathBuf {
    PathBuf::from(".cache/lib/libonnxruntime.so.1.31.1")
}
