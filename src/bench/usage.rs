//! Process CPU time and peak memory, from getrusage.

use std::time::Duration;

fn rusage() -> libc::rusage {
    // SAFETY: getrusage only writes into the struct we pass; all-zero is a valid rusage.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// User + system CPU time of the whole process so far (every thread, GStreamer's included).
pub fn cpu_time() -> Duration {
    let u = rusage();
    timeval(u.ru_utime) + timeval(u.ru_stime)
}

/// Peak resident set size of the process so far, in MiB.
pub fn peak_rss_mib() -> f64 {
    rusage().ru_maxrss as f64 / 1024.0
}
