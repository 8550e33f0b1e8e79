//! The HTTP application: routes, and the middleware every request goes through.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use poem::endpoint::make_sync;
use poem::http::{header, Method, StatusCode};
use poem::middleware::Cors;
use poem::{get, Body, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};

use crate::api::document;
use crate::api::error::{json_error, ErrorCode};
use crate::disk::DiskGuard;
use crate::state::SharedState;
use crate::{heap_trim, metrics, streams, web_ui};

pub fn build(state: SharedState, prometheus: metrics_exporter_prometheus::PrometheusHandle) -> impl Endpoint {
    let api = document::service(&state);
    let spec = document::json(&api);
    let docs = api.swagger_ui();
    let limits = BodyLimits {
        upload: state.config.max_upload_bytes(),
        other: state.config.max_body_bytes(),
    };
    let token = state.config.api_token.clone();
    let cors = state.config.cors_origins.clone();
    let public_url: Arc<str> = state.config.public_url().into();
    let disk = state.disk.clone();

    let routes = Route::new()
        .nest("/", api)
        .at("/openapi.json", get(make_sync(move |_| spec_response(&spec))))
        .nest("/docs", docs)
        .at("/metrics", get(metrics::render))
        .at("/streams/:id/*rest", get(streams::serve_stream))
        .at("/ui/vendor/hls.min.js", get(web_ui::hls_js))
        // Generated, not a file: this exact path wins over the files route below.
        .at("/ui/palette.js", get(web_ui::palette))
        .at("/ui/:name", get(web_ui::asset))
        // The OpenAPI service nested at "/" answers "/" itself: the page is served before it.
        .around(|ep, req: Request| async move {
            if req.uri().path() == "/" {
                Ok(web_ui::index.call(req).await?.into_response())
            } else {
                Ok(ep.call(req).await?.into_response())
            }
        })
        .data(state)
        .data(prometheus);
    let mut cors_mw = Cors::new();
    for o in &cors {
        cors_mw = cors_mw.allow_origin(o.as_str());
    }
    routes
        .around(move |ep, req| body_limit(ep, req, limits))
        .around(move |ep, req| disk_gate(ep, req, disk.clone()))
        .around(move |ep, req| require_token(ep, req, token.clone()))
        .with_if(!cors.is_empty(), cors_mw)
        // Boxed: `with_if` doubles the type of what it wraps, past what the compiler lays out.
        .boxed()
        .around(move |ep, req| same_origin(ep, req, public_url.clone()))
        .around(json_errors)
        .around(retry_after)
        .around(metrics::track)
        .around(crate::http::access_log)
}

fn spec_response(spec: &str) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(spec.to_owned())
}

/// Mutating requests need the bearer token when one is configured.
async fn require_token<E: Endpoint>(next: E, req: Request, token: Option<String>) -> poem::Result<Response> {
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let (true, Some(want)) = (mutating, token) {
        let got = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        // Compare in constant time so the token cannot be guessed byte by byte.
        let ok = got.is_some_and(|g| {
            g.len() == want.len() && g.bytes().zip(want.bytes()).fold(0, |a, (x, y)| a | (x ^ y)) == 0
        });
        if !ok {
            return Ok(json_error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "this request needs Authorization: Bearer <api_token>",
            ));
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// The token of an `Authorization: Bearer <token>` value; the scheme's case does not matter
/// (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start())
}

/// A request from the server's own page needs no CORS: the header is taken off so the CORS layer
/// lets it through whatever `cors_origins` lists. See [`is_own_origin`].
async fn same_origin<E: Endpoint>(next: E, mut req: Request, public_url: Arc<str>) -> poem::Result<Response> {
    let own = {
        let headers = req.headers();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        origin.is_some_and(|o| is_own_origin(o, host, &public_url))
    };
    if own {
        req.headers_mut().remove(header::ORIGIN);
    }
    Ok(next.call(req).await?.into_response())
}

/// Whether `origin` is the server's own: its `public_url`, or the address the request was sent
/// to (its `Host`) when that is an IP address or `localhost`. A DNS name in `Host` is not
/// enough: a page that rebinds its own name to this server's address would send a matching one.
fn is_own_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    if origin.eq_ignore_ascii_case(public_url) {
        return true;
    }
    let (Some((_, authority)), Some(host)) = (origin.split_once("://"), host) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let literal = name.parse::<std::net::IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost");
    literal && authority.eq_ignore_ascii_case(host)
}

/// Every 503 says when to come back (the API's own 503s may set a longer wait).
async fn retry_after<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let mut resp = next.call(req).await?.into_response();
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE && !resp.headers().contains_key(header::RETRY_AFTER) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    Ok(resp)
}

/// The body size a request declares (Content-Length), if it declares one that parses.
fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// An upload that would go below the free-space floor is refused before its body is read: 507
/// with the figures. (Content-Length counts against what is free; the handler checks again once
/// the body is spooled, and jobs check before they start.)
async fn disk_gate<E: Endpoint>(next: E, req: Request, disk: DiskGuard) -> poem::Result<Response> {
    if *req.method() == Method::POST && req.uri().path() == "/api/videos" {
        let declared_mb = declared_length(&req).map_or(0, |n| n.div_ceil(1024 * 1024));
        let free_mb = disk.free_mb().unwrap_or(0);
        let refusal = match disk.check() {
            Err(low) => Some(low.to_string()),
            Ok(()) if declared_mb > 0 && free_mb.saturating_sub(declared_mb) < disk.min_free_mb() => Some(format!(
                "this upload ({declared_mb} MiB) would leave less than {} MiB free in the data folder ({free_mb} MiB free)",
                disk.min_free_mb()
            )),
            Ok(()) => None,
        };
        if let Some(why) = refusal {
            return Ok(json_error(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::InsufficientStorage,
                &why,
            ));
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// The largest bodies taken: an upload's, and any other request's (JSON).
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    upload: u64,
    other: u64,
}

impl BodyLimits {
    /// The limit on `req`'s body, the refusal that names it, and whether the body is parsed in
    /// memory (an upload streams to disk).
    fn of(self, req: &Request) -> (u64, String, bool) {
        if *req.method() == Method::POST && req.uri().path() == "/api/videos" {
            let mb = self.upload / (1024 * 1024);
            let why = format!("uploads are limited to {mb} MiB (max_upload_mb)");
            (self.upload, why, false)
        } else {
            let kb = self.other / 1024;
            let why = format!("request bodies are limited to {kb} KiB (max_body_kb)");
            (self.other, why, true)
        }
    }
}

/// Enforces the body limits while the body streams in, before anything parses it: a body that
/// declares more is refused at once, and one without Content-Length (chunked) is stopped at the
/// limit, not after it has filled the disk or the memory.
async fn body_limit<E: Endpoint>(next: E, mut req: Request, limits: BodyLimits) -> poem::Result<Response> {
    let (limit, why, parsed) = limits.of(&req);
    let too_large = || json_error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, &why);
    if declared_length(&req).is_some_and(|n| n > limit) {
        return Ok(too_large());
    }
    let seen = Arc::new(AtomicU64::new(0));
    let counted = seen.clone();
    let body = req.take_body().into_bytes_stream().map(move |chunk| {
        let chunk = chunk?;
        let so_far = counted.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if so_far > limit {
            return Err(std::io::Error::other("body over the size limit"));
        }
        Ok(chunk)
    });
    req.set_body(Body::from_bytes_stream(body));
    let resp = next.call(req).await.map(IntoResponse::into_response);
    let seen = seen.load(Ordering::Relaxed);
    if parsed && seen >= heap_trim::LARGE_BODY {
        heap_trim::soon();
    }
    if seen > limit {
        return Ok(too_large());
    }
    resp
}

/// Errors raised by the framework itself (a malformed query, an unparsable body, an unknown
/// route) get the same JSON shape as the API's own.
async fn json_errors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    match next.call(req).await {
        Ok(r) => Ok(r.into_response()),
        Err(e) => {
            let status = e.status();
            let message = e.to_string();
            // The API's own errors already carry their JSON body: keep it.
            let resp = e.into_response();
            if resp.content_type().is_some_and(|c| c.starts_with("application/json")) {
                return Ok(resp);
            }
            let code = match status {
                StatusCode::FORBIDDEN => ErrorCode::Forbidden,
                StatusCode::NOT_FOUND => ErrorCode::NotFound,
                StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
                StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMedia,
                s if s.is_client_error() => ErrorCode::BadRequest,
                _ => ErrorCode::Internal,
            };
            Ok(json_error(status, code, &message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_origin_is_the_public_url_or_an_address_literal_in_host() {
        let public = "https://video.example.org";
        assert!(is_own_origin(
            "https://video.example.org",
            Some("10.0.0.5:8080"),
            public
        ));
        assert!(is_own_origin("http://127.0.0.1:8080", Some("127.0.0.1:8080"), public));
        assert!(is_own_origin("http://[::1]:8080", Some("[::1]:8080"), public));
        assert!(is_own_origin("http://localhost:8080", Some("localhost:8080"), public));
        // A name in Host could be a rebinding page's own.
        assert!(!is_own_origin(
            "http://evil.example.net",
            Some("evil.example.net"),
            public
        ));
        assert!(!is_own_origin("http://127.0.0.1:9999", Some("127.0.0.1:8080"), public));
        assert!(!is_own_origin("https://dashboard.example.org", None, public));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
