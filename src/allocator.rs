//! How the C allocator behaves in this process. glibc gives threads arenas of their own, up to
//! 8 per core; every job starts fresh decoder and encoder threads, and memory freed in an arena is
//! rarely handed back, so resident memory climbed job after job (`scripts/bench-soak.sh`: 477 MiB
//! after 10 short jobs, 603 MiB after 50). Two arenas keep it flat (+1.6% from job 10 to 30) and
//! lower (303 MiB after 10).

/// Arenas glibc may create. Call before any thread starts (it is read when a thread first
/// allocates).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas() {
    // An explicit MALLOC_ARENA_MAX from the operator wins.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no memory is touched.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}
