//! Whether a connection that arrived over a cap is a health check, read off the first bytes of
//! its request. Health checks are answered even when every slot is taken: an orchestrator that
//! sees `/healthz` fail restarts a server that is only busy, or only under attack by idle sockets.
//! Pure: the listener feeds it what it has read so far.

/// The paths answered past the caps.
const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// What the bytes read so far say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A `GET` or `HEAD` of a health path: serve it.
    Health,
    /// Anything else: refuse it.
    Other,
    /// The request line is not complete yet.
    NeedMore,
}

/// Judges the start of a request. Only the request line is needed; a line longer than `limit`
/// bytes is no health check.
pub fn judge(head: &[u8], limit: usize) -> Verdict {
    let Some(end) = head.iter().position(|&b| b == b'\n') else {
        return if head.len() >= limit {
            Verdict::Other
        } else {
            Verdict::NeedMore
        };
    };
    let line = String::from_utf8_lossy(&head[..end]);
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next()) else {
        return Verdict::Other;
    };
    let path = target.split('?').next().unwrap_or_default();
    let health = matches!(method, "GET" | "HEAD") && HEALTH_PATHS.contains(&path) && version.starts_with("HTTP/1.");
    if health {
        Verdict::Health
    } else {
        Verdict::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_checks_are_told_from_other_requests() {
        assert_eq!(judge(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", 256), Verdict::Health);
        assert_eq!(judge(b"HEAD /readyz?probe=1 HTTP/1.0\r\n", 256), Verdict::Health);
        assert_eq!(judge(b"GET /healthz HTTP/1.1", 256), Verdict::NeedMore);
        assert_eq!(judge(b"GET /api/videos HTTP/1.1\r\n", 256), Verdict::Other);
        assert_eq!(judge(b"POST /healthz HTTP/1.1\r\n", 256), Verdict::Other);
        assert_eq!(judge(b"GET /healthzz HTTP/1.1\r\n", 256), Verdict::Other);
        assert_eq!(judge(b"\x16\x03\x01\x02\x00\n", 256), Verdict::Other, "not HTTP");
        assert_eq!(judge(&[b'G'; 300], 256), Verdict::Other, "a line past the limit");
        assert_eq!(judge(b"", 256), Verdict::NeedMore);
    }
}
