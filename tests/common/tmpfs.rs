//! A small tmpfs mounted for a test's life, to fill it for real. Mounting needs root, which
//! `make test` has here and in CI; without it the test fails saying so, rather than passing
//! without having run.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run, stderr, stdout};

pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size_mb: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir));
        assert!(
            out.status.success(),
            "this test mounts a {size_mb} MiB tmpfs to fill it and needs root for that: {}",
            stderr(&out)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes free on the file system of `dir`, as `df` reports them.
pub fn available_bytes(dir: &Path) -> u64 {
    let out = run(Command::new("df").args(["-B1", "--output=avail"]).arg(dir));
    stdout(&out)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df reports the free bytes")
}
