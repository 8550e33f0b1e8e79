//! The model's identity across nodes: the sha256 of its file.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::ClusterError;

pub fn model_sha256(path: &Path) -> Result<String, ClusterError> {
    let err = |e: std::io::Error| ClusterError::Model(path.to_path_buf(), e.to_string());
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("m");
        std::fs::write(&path, b"abc").expect("write");
        assert_eq!(
            model_sha256(&path).expect("digest"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(model_sha256(&dir.path().join("missing")).is_err());
    }
}
