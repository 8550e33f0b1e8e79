//! Free space in the data folder, and the floor below which the server takes no new work: an
//! upload that would fill the disk is refused (507) before its body is read, a job does not
//! start, and `/readyz` says why. Everything the server writes lives under the data folder.

use std::io;
use std::path::{Path, PathBuf};

/// The data folder has less free space than the server keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("only {free_mb} MiB are free in the data folder; {min_mb} MiB must stay free (min_free_mb)")]
pub struct LowSpace {
    pub free_mb: u64,
    pub min_mb: u64,
}

#[derive(Debug, Clone)]
pub struct DiskGuard {
    dir: PathBuf,
    min_free_mb: u64,
}

impl DiskGuard {
    pub fn new(dir: &Path, min_free_mb: u64) -> Self {
        DiskGuard {
            dir: dir.to_path_buf(),
            min_free_mb,
        }
    }

    /// The floor, in MiB.
    pub fn min_free_mb(&self) -> u64 {
        self.min_free_mb
    }

    /// MiB free to this process in the data folder's file system.
    pub fn free_mb(&self) -> io::Result<u64> {
        free_bytes(&self.dir).map(|b| b / (1024 * 1024))
    }

    /// Whether the floor holds; a folder that cannot be measured counts as full.
    pub fn check(&self) -> Result<(), LowSpace> {
        let free_mb = self.free_mb().unwrap_or(0);
        if free_mb < self.min_free_mb {
            return Err(LowSpace {
                free_mb,
                min_mb: self.min_free_mb,
            });
        }
        Ok(())
    }
}

/// Bytes available to an unprivileged writer on the file system holding `path`.
fn free_bytes(path: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to writable memory of
    // the type statvfs fills; we read it only when the call reports success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    // The fields' width differs between targets (u64 here, u32 on 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_real_folder_and_applies_the_floor() {
        let dir = tempfile::tempdir().expect("dir");
        let free = DiskGuard::new(dir.path(), 0).free_mb().expect("measures");
        assert!(free > 0);
        assert_eq!(DiskGuard::new(dir.path(), 0).check(), Ok(()));
        let e = DiskGuard::new(dir.path(), u64::MAX).check().unwrap_err();
        assert!(e.to_string().contains("must stay free (min_free_mb)"), "{e}");
        assert!(DiskGuard::new(Path::new("/no/such/folder"), 1).check().is_err());
    }
}
