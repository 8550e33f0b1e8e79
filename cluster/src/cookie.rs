//! The shared cookie every node presents when it connects: configured, or generated once into the
//! data folder (readable by its owner only) and kept for later starts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::ClusterError;

/// The cookie's file inside the data folder.
pub const COOKIE_FILE: &str = "cluster.cookie";

/// Reads the cookie at `path`, or creates one there. Returns it and whether it was just created.
pub fn load_or_create(path: &Path) -> Result<(String, bool), ClusterError> {
    let err = |e: std::io::Error| ClusterError::Cookie(path.to_path_buf(), e.to_string());
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return Ok((
                validate(text.trim()).map_err(|m| ClusterError::Cookie(path.to_path_buf(), m))?,
                false,
            ))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw).map_err(|e| ClusterError::Cookie(path.to_path_buf(), e.to_string()))?;
    let cookie: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    writeln!(file, "{cookie}").map_err(err)?;
    Ok((cookie, true))
}

/// A cookie is one line of visible ASCII: it travels in the handshake and is typed by operators.
pub fn validate(cookie: &str) -> Result<String, String> {
    if cookie.len() < 8 || cookie.len() > 255 {
        return Err(format!("the cookie must be 8 to 255 characters, not {}", cookie.len()));
    }
    if !cookie.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the cookie must be visible ASCII characters without spaces".into());
    }
    Ok(cookie.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_then_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(COOKIE_FILE);
        let (first, created) = load_or_create(&path).expect("created");
        assert!(created);
        assert_eq!(first.len(), 48);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).expect("read"), (first, false));
    }

    #[test]
    fn bad_cookies_are_refused_with_a_reason() {
        assert!(validate("short").is_err());
        assert!(validate("has a space in it").is_err());
        assert!(validate("0123456789abcdef").is_ok());
    }
}
