//! One log line per request, and a request id tying that line to everything logged while the
//! request was handled: taken from the client's `x-request-id` when it sends a usable one,
//! generated otherwise, and returned in the response's `x-request-id`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::route::route_template;

const HEADER: &str = "x-request-id";

pub async fn access_log<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable(v))
        .map_or_else(new_id, String::from);
    let (method, route) = (req.method().to_string(), route_template(req.uri().path()));
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut resp = match next.call(req).instrument(span.clone()).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    // The size a body declares up front; a streamed one (events, exports) has none, and its line
    // leaves `bytes` out rather than log a number that is not what was sent.
    let body: http_body_util::combinators::BoxBody<_, _> = resp.take_body().into();
    let bytes = hyper::body::Body::size_hint(&body).exact();
    resp.set_body(poem::Body::from(body));
    let (status, duration_ms) = (resp.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
    span.in_scope(|| match bytes {
        Some(bytes) => {
            tracing::info!(target: "sightline::access", method, route, status, duration_ms, bytes, "request")
        }
        None => tracing::info!(target: "sightline::access", method, route, status, duration_ms, "request"),
    });
    Ok(resp)
}

/// Ids from clients are logged and echoed: short, and only characters that are safe in both.
fn usable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Unique within the process (a counter), and unlikely to repeat across restarts (the start time).
fn new_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    });
    format!("{start:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_taken_only_when_safe() {
        assert!(usable("abc") && usable("3f2a-9c1e_01.x:y"));
        assert!(!usable("") && !usable("a b") && !usable("a\nb") && !usable(&"x".repeat(129)));
        assert_ne!(new_id(), new_id());
    }
}
