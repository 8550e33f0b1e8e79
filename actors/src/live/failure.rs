//! Why a live stream could not be opened or read, in our words. GStreamer's own are often no
//! help: an HLS source whose server refuses the connection only says "Internal data stream
//! error … reason error (-5)" (souphttpsrc keeps the cause in its debug log), and rtspsrc says
//! "Failed to connect. (Generic error)". So the pipeline's errors are sorted into the few kinds
//! an operator can act on, and a connection failure is told by what a plain TCP connection to
//! the source's host and port found ([`Reach`]). Pure: `media::live_source` reads the errors off
//! the bus and makes the connection.

use std::time::Duration;

use super::url::LiveUrl;

/// The kinds of pipeline error the wording tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source refused the credentials.
    NotAuthorized,
    /// The source has no such stream.
    NotFound,
    /// The source element could not open the connection.
    CannotOpen,
    /// Data stopped flowing (GStreamer's "Internal data stream error"): on the source element
    /// before any frame, usually a connection that could not be made.
    DataFlow,
    Other,
}

impl ErrorKind {
    /// How telling an error of this kind is, among those one element posted for one failure.
    const fn weight(self) -> u8 {
        match self {
            Self::NotAuthorized => 4,
            Self::NotFound => 3,
            Self::CannotOpen => 2,
            Self::Other => 1,
            Self::DataFlow => 0,
        }
    }
}

/// One error a live stream's pipeline posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    pub kind: ErrorKind,
    /// Posted by the element that reads from the network (rtspsrc, souphttpsrc, hlsdemux), not
    /// by one downstream.
    pub from_source: bool,
    /// GStreamer's message ("Could not open resource for reading and writing.").
    pub message: String,
    /// The last line of its debug text, where elements say what happened.
    pub detail: String,
}

impl StreamError {
    /// Whether the error may be a connection that could not be made: worth trying one to say why.
    pub fn may_be_connection(&self) -> bool {
        self.from_source && matches!(self.kind, ErrorKind::CannotOpen | ErrorKind::DataFlow)
    }

    /// The most telling of the errors a failure posted (the source's over the starved elements').
    pub fn most_telling(errors: Vec<StreamError>) -> Option<StreamError> {
        errors
            .into_iter()
            .enumerate()
            // The source's own error says what happened; ties go to the first posted: the
            // cause comes before its consequences.
            .max_by_key(|(i, e)| (e.from_source, e.kind.weight(), std::cmp::Reverse(*i)))
            .map(|(_, e)| e)
    }
}

/// What a plain TCP connection to the source's host and port found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Nothing listens there.
    Refused,
    /// No answer within the time.
    TimedOut(Duration),
    /// The host name does not resolve.
    NoSuchHost,
    /// Another failure, in the system's words.
    Failed(String),
    /// Something listens: the trouble is past the connection.
    Answered,
}

/// A live stream's failure in a sentence that says what to check; the URL shown without its
/// password. `reach`: what a connection to the source found, when one was tried.
pub fn describe(url: &LiveUrl, error: &StreamError, reach: Option<&Reach>) -> String {
    let (host, port) = url.host_port().unwrap_or_default();
    let not_reached = |why: String| format!("could not connect to {url}: {why}");
    match (error.kind, reach) {
        (ErrorKind::NotAuthorized, _) => "the source refused the credentials (401 Unauthorized)".into(),
        (ErrorKind::NotFound, _) => {
            format!("the source has no such stream (404 Not Found){}", detail(&error.detail))
        }
        (_, Some(Reach::Refused)) => not_reached(format!("connection refused (nothing listens on {host}:{port})")),
        (_, Some(Reach::TimedOut(t))) => not_reached(format!(
            "no answer from {host}:{port} within {} s (host down or unreachable)",
            t.as_secs_f64()
        )),
        (_, Some(Reach::NoSuchHost)) => not_reached(format!("the host name {host} does not resolve")),
        (_, Some(Reach::Failed(why))) => not_reached(why.clone()),
        (ErrorKind::CannotOpen, Some(Reach::Answered)) => format!(
            "could not open {url}: {host}:{port} answered, but the stream could not be opened{}",
            detail(&error.detail)
        ),
        (ErrorKind::CannotOpen, None) => format!(
            "could not open {url}: the stream could not be opened{}",
            detail(&error.detail)
        ),
        (ErrorKind::DataFlow, Some(Reach::Answered)) if error.from_source => format!(
            "could not read {url}: {host}:{port} answered, but sent nothing that could be played{}",
            detail(&error.detail)
        ),
        // Not the connection, and not something we know how to say better.
        _ => format!("{}{}", error.message.trim_end_matches('.'), detail(&error.detail)),
    }
}

fn detail(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: ErrorKind, from_source: bool, message: &str, detail: &str) -> StreamError {
        StreamError {
            kind,
            from_source,
            message: message.into(),
            detail: detail.into(),
        }
    }

    fn flow() -> StreamError {
        error(
            ErrorKind::DataFlow,
            true,
            "Internal data stream error.",
            "streaming stopped, reason error (-5)",
        )
    }

    #[test]
    fn a_connection_that_cannot_be_made_is_said_the_same_way_for_hls_and_rtsp() {
        let hls = LiveUrl::parse("http://viewer:s3cret@127.0.0.1:9/live/index.m3u8").expect("url");
        let said = describe(&hls, &flow(), Some(&Reach::Refused));
        assert_eq!(
            said,
            "could not connect to http://viewer:***@127.0.0.1:9/live/index.m3u8: connection refused \
             (nothing listens on 127.0.0.1:9)"
        );
        let rtsp = LiveUrl::parse("rtsp://127.0.0.1:8554/cam").expect("url");
        let open = error(
            ErrorKind::CannotOpen,
            true,
            "Could not open resource for reading and writing.",
            "Failed to connect. (Generic error)",
        );
        assert_eq!(
            describe(&rtsp, &open, Some(&Reach::Refused)),
            "could not connect to rtsp://127.0.0.1:8554/cam: connection refused (nothing listens on 127.0.0.1:8554)"
        );
        let far = LiveUrl::parse("rtsp://cam.example/stream").expect("url");
        let timed_out = describe(&far, &open, Some(&Reach::TimedOut(Duration::from_secs(2))));
        assert!(
            timed_out.contains("no answer from cam.example:554 within 2 s"),
            "{timed_out}"
        );
        let unknown = describe(&far, &open, Some(&Reach::NoSuchHost));
        assert!(
            unknown.ends_with("the host name cam.example does not resolve"),
            "{unknown}"
        );
    }

    #[test]
    fn errors_past_the_connection_say_so_and_known_answers_keep_their_words() {
        let hls = LiveUrl::parse("https://example.org/live.m3u8").expect("url");
        let said = describe(&hls, &flow(), Some(&Reach::Answered));
        assert!(
            said.starts_with("could not read https://example.org/live.m3u8: example.org:443 answered"),
            "{said}"
        );
        let auth = error(ErrorKind::NotAuthorized, true, "Unauthorized", "401");
        assert_eq!(
            describe(&hls, &auth, None),
            "the source refused the credentials (401 Unauthorized)"
        );
        let missing = error(ErrorKind::NotFound, true, "Not Found", "Not Found (404)");
        assert!(describe(&hls, &missing, Some(&Reach::Answered))
            .starts_with("the source has no such stream (404 Not Found)"));
        let other = error(ErrorKind::Other, false, "Could not decode stream.", "");
        assert_eq!(describe(&hls, &other, None), "Could not decode stream");
    }

    #[test]
    fn the_source_elements_error_outweighs_the_starved_ones() {
        // What an HLS source on a closed port posts: the source's flow error, then typefind's.
        let typefind = error(ErrorKind::Other, false, "Stream doesn't contain enough data.", "");
        let picked = StreamError::most_telling(vec![flow(), typefind.clone()]).expect("one");
        assert_eq!(picked, flow());
        assert!(picked.may_be_connection());
        // Without the source's, the most specific of the others.
        let starved = error(ErrorKind::DataFlow, false, "Internal data stream error.", "");
        let picked = StreamError::most_telling(vec![starved, typefind.clone()]).expect("one");
        assert_eq!(picked, typefind);
        assert!(!picked.may_be_connection());
        assert_eq!(StreamError::most_telling(Vec::new()), None);
    }
}
