//! Where libraries keep their caches. ONNX Runtime writes a device id under
//! `$XDG_CACHE_HOME/Microsoft/DeveloperTools` (telemetry off or not); a server keeps everything it
//! writes in its data folder, so that folder gets its own cache home. GStreamer's plugin registry
//! reads the same variable: it stays where it was, shared by every GStreamer program, since
//! rebuilding it per data folder costs a start-up scan.

use std::path::{Path, PathBuf};

/// Points the cache home at `data_dir/cache`. Environment variables may only change while no
/// other thread can read them: call this before the async runtime (or anything else) starts.
pub fn keep_in(data_dir: &Path) {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let old_cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".cache")));
    if std::env::var_os("GST_REGISTRY").is_none() {
        if let Some(old) = old_cache {
            let registry = format!("registry.{}.bin", std::env::consts::ARCH);
            std::env::set_var("GST_REGISTRY", old.join("gstreamer-1.0").join(registry));
        }
    }
    let cache = std::path::absolute(data_dir.join("cache")).unwrap_or_else(|_| data_dir.join("cache"));
    std::env::set_var("XDG_CACHE_HOME", cache);
}
