//! `/streams/{id}/…`: the HLS files, with the right MIME types, caching and Range support.

use poem::http::{header, StatusCode};
use poem::web::{Path, StaticFileRequest};
use poem::{handler, web::Data, IntoResponse, Response};

use crate::api::error::{json_error, ErrorCode};
use crate::state::SharedState;

/// Only these names exist under a stream folder: no user input ever reaches the file system
/// except as a checked video id and one of these shapes.
fn allowed(rest: &str) -> Option<(&'static str, bool)> {
    let parts: Vec<&str> = rest.split('/').collect();
    // A rendering's files have the same shapes under `renders/<number>/`.
    match parts.as_slice() {
        ["renders", number, tail @ ..] if number.parse::<u32>().is_ok() => hls_file(tail),
        all => hls_file(all),
    }
}

/// The master playlist, or a rendition's playlist or segment.
fn hls_file(parts: &[&str]) -> Option<(&'static str, bool)> {
    let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match parts {
        ["master.m3u8"] => Some(("application/vnd.apple.mpegurl", false)),
        [dir, file] if name_ok(dir) => {
            if *file == "index.m3u8" {
                Some(("application/vnd.apple.mpegurl", false))
            } else if file.strip_suffix(".ts").is_some_and(name_ok) {
                Some(("video/mp2t", true))
            } else {
                None
            }
        }
        _ => None,
    }
}

#[handler]
pub async fn serve_stream(
    Path((id, rest)): Path<(String, String)>,
    req: StaticFileRequest,
    Data(state): Data<&SharedState>,
) -> Response {
    let not_found = || json_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such stream file");
    let Ok(id) = id.parse::<sightline_actors::store::VideoId>() else {
        return json_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "malformed video id");
    };
    let Some((mime, immutable)) = allowed(&rest) else {
        return not_found();
    };
    let path = state.stream_dir(id).join(&rest);
    if !path.is_file() {
        return not_found();
    }
    match req.create_response(&path, false, false) {
        Ok(resp) => {
            let mut resp = resp.into_response();
            let headers = resp.headers_mut();
            if let Ok(v) = mime.parse() {
                headers.insert(header::CONTENT_TYPE, v);
            }
            // Segments never change once written; playlists grow while the job runs.
            let cache = if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            if let Ok(v) = cache.parse() {
                headers.insert(header::CACHE_CONTROL, v);
            }
            resp
        }
        Err(e) => {
            let status = poem::error::ResponseError::status(&e);
            json_error(status, ErrorCode::BadRequest, &e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn only_hls_names_are_served() {
        assert!(allowed("master.m3u8").is_some());
        assert!(allowed("576p/index.m3u8").is_some());
        assert_eq!(allowed("576p/seg00001.ts").map(|a| a.0), Some("video/mp2t"));
        assert!(allowed("renders/2/master.m3u8").is_some());
        assert!(allowed("renders/2/480p/seg00000.ts").is_some());
        assert!(allowed("renders/x/master.m3u8").is_none());
        assert!(allowed("renders/2/renders/3/master.m3u8").is_none());
        for bad in [
            "../x",
            "576p/../../etc/passwd",
            "a/b/c.ts",
            "576p/x.mp4",
            "",
            "576p/.ts",
            "./master.m3u8",
        ] {
            assert!(allowed(bad).is_none(), "{bad}");
        }
    }
}
