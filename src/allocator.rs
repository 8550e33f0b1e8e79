//! How the C allocator behaves in this process.
//!
//! Arenas: glibc gives threads arenas of their own, up to 8 per core; every job starts fresh
//! decoder and encoder threads, and memory freed in an arena is rarely handed back, so resident
//! memory climbed job after job (`scripts/bench-soak.sh`: 477 MiB after 10 short jobs, 603 MiB
//! after 50). Two arenas keep it flat (+1.6% from job 10 to 30) and lower (303 MiB after 10).
//!
//! Large blocks: glibc maps a block of 128 KiB or more on its own and unmaps it when freed, but
//! each such free raises that threshold to the block's size, so after the first frames (1.4 MB
//! at 1280×720) every frame, letterbox and encoder buffer came from the arenas, where freed
//! space stays resident and fragments. A fixed threshold keeps them mapped and returned: the
//! 1280×720 sample's peak went from 411 to 373 MiB (`sightline bench pipeline`), at the same
//! speed within the machine's noise (48.1 against 49.1 fps).

/// Bytes from which a block is mapped on its own: glibc's starting value, kept fixed.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Sets the allocator up. Call before any thread starts (arenas are chosen when a thread first
/// allocates). A value the operator gives through glibc's own variables wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn configure() {
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    let given = |variable: &str, tunable: &str| std::env::var_os(variable).is_some() || tunables.contains(tunable);
    // SAFETY: mallopt only sets allocator parameters; no memory is touched.
    unsafe {
        if !given("MALLOC_ARENA_MAX", "arena_max") {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        if !given("MALLOC_MMAP_THRESHOLD_", "mmap_threshold") {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn configure() {}
