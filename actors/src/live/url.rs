//! A live source's address: which schemes we take, and how it is shown without its password.

use std::fmt;

/// A checked live source URL. Its `Display` and `Debug` hide any password it carries, so it can
/// be logged and returned as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct LiveUrl(String);

/// Longest URL accepted.
const MAX_LEN: usize = 2048;

impl LiveUrl {
    /// Accepts `rtsp://` and `rtsps://` cameras and `http(s)://` HLS streams (a path ending in
    /// `.m3u8`), with a host; says what is wrong otherwise.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.len() > MAX_LEN {
            return Err(format!("the URL is longer than {MAX_LEN} characters"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the URL contains spaces or control characters".into());
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("the URL has no scheme (rtsp://, rtsps://, http:// or https://)".into());
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "rtsp" | "rtsps" => {}
            "http" | "https" => {
                let path = rest.split(['?', '#']).next().unwrap_or_default();
                if !path.to_ascii_lowercase().ends_with(".m3u8") {
                    return Err("an http(s) live source must be an HLS playlist (a path ending in .m3u8)".into());
                }
            }
            other => {
                return Err(format!(
                    "'{other}' sources are not supported: use rtsp://, rtsps://, or http(s)://….m3u8"
                ))
            }
        }
        let host = authority(rest).rsplit('@').next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err("the URL names no host".into());
        }
        Ok(LiveUrl(format!("{scheme}://{rest}")))
    }

    /// The URL as given, credentials included: for GStreamer only.
    pub fn as_secret_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a camera (RTSP) rather than an HLS stream.
    pub fn is_rtsp(&self) -> bool {
        self.0.starts_with("rtsp")
    }

    /// The host (IPv6 without its brackets) and port it connects to, the scheme's port when none
    /// is given; `None` for a port that is not a number.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let (scheme, rest) = self.0.split_once("://")?;
        let host_port = authority(rest).rsplit('@').next().unwrap_or_default();
        let (host, port) = match host_port.strip_prefix('[') {
            // [::1]:8554
            Some(v6) => {
                let (host, after) = v6.split_once(']')?;
                (host, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => match scheme {
                "rtsp" => 554,
                "rtsps" => 322,
                "http" => 80,
                _ => 443,
            },
        };
        Some((host.to_string(), port))
    }
}

/// `user:password@host:port` of `rest` (what follows `scheme://`).
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

impl fmt::Display for LiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let auth = authority(rest);
        match auth.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or_default();
                write!(f, "{scheme}://{user}:***@{host}{}", &rest[auth.len()..])
            }
            None => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for LiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LiveUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_cameras_and_hls_and_says_what_else_is_wrong() {
        assert!(LiveUrl::parse("rtsp://cam.local:8554/stream").is_ok());
        assert!(LiveUrl::parse("RTSPS://cam/stream").is_ok_and(|u| u.is_rtsp()));
        assert!(LiveUrl::parse("https://example.org/live/index.m3u8?token=1").is_ok_and(|u| !u.is_rtsp()));
        let err = |u: &str| LiveUrl::parse(u).expect_err(u);
        assert!(err("https://example.org/video.mp4").contains(".m3u8"));
        assert!(err("file:///etc/passwd").contains("not supported"));
        assert!(err("cam.local/stream").contains("scheme"));
        assert!(err("rtsp:///stream").contains("host"));
        assert!(err("rtsp://user:pw@/stream").contains("host"));
        assert!(err("rtsp://cam/a b").contains("spaces"));
        assert!(err(&format!("rtsp://cam/{}", "a".repeat(3000))).contains("longer"));
    }

    #[test]
    fn knows_the_host_and_port_it_connects_to() {
        let hp = |u: &str| LiveUrl::parse(u).expect(u).host_port();
        assert_eq!(
            hp("rtsp://admin:pw@10.0.0.5:8554/h264"),
            Some(("10.0.0.5".into(), 8554))
        );
        assert_eq!(hp("rtsp://cam.local/stream"), Some(("cam.local".into(), 554)));
        assert_eq!(hp("rtsps://cam.local/stream"), Some(("cam.local".into(), 322)));
        assert_eq!(hp("http://example.org/a.m3u8?x=1"), Some(("example.org".into(), 80)));
        assert_eq!(hp("https://example.org/a.m3u8"), Some(("example.org".into(), 443)));
        assert_eq!(hp("http://[::1]:8080/a.m3u8"), Some(("::1".into(), 8080)));
        assert_eq!(hp("http://[::1]/a.m3u8"), Some(("::1".into(), 80)));
        assert_eq!(hp("rtsp://cam:port/stream"), None);
    }

    #[test]
    fn never_shows_the_password() {
        let u = LiveUrl::parse("rtsp://admin:s3cret@10.0.0.5:554/h264?ch=1").expect("url");
        assert_eq!(u.to_string(), "rtsp://admin:***@10.0.0.5:554/h264?ch=1");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert_eq!(u.as_secret_str(), "rtsp://admin:s3cret@10.0.0.5:554/h264?ch=1");
        let plain = LiveUrl::parse("rtsp://10.0.0.5/h264").expect("url");
        assert_eq!(plain.to_string(), "rtsp://10.0.0.5/h264");
    }
}
