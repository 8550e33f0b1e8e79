//! The web page and its assets, served from the `web/` folder (hls.js from its npm install).

use poem::http::{header, StatusCode};
use poem::web::{Path, StaticFileRequest};
use poem::{handler, web::Data, IntoResponse, Response};
use sightline_actors::render::{class_colour, PALETTE_LEN};

use crate::api::error::{json_error, ErrorCode};
use crate::state::SharedState;

/// Serves `file` from `dir` with the given type; 404 when it is missing.
fn send(req: StaticFileRequest, file: std::path::PathBuf, mime: &str) -> Response {
    if !file.is_file() {
        return json_error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such file (is the web UI installed? run make setup)",
        );
    }
    match req.create_response(&file, true, false) {
        Ok(r) => r.with_content_type(mime.to_string()).into_response(),
        Err(e) => json_error(
            poem::error::ResponseError::status(&e),
            ErrorCode::BadRequest,
            &e.to_string(),
        ),
    }
}

#[handler]
pub fn index(req: StaticFileRequest, Data(state): Data<&SharedState>) -> Response {
    send(req, state.config.web_dir.join("index.html"), "text/html; charset=utf-8")
}

/// Top-level files of the web folder only, by a strict name pattern: no paths, no package files.
#[handler]
pub fn asset(Path(name): Path<String>, req: StaticFileRequest, Data(state): Data<&SharedState>) -> Response {
    let valid = !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let mime = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "",
    };
    if !valid || mime.is_empty() {
        return json_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file");
    }
    send(req, state.config.web_dir.join(&name), mime)
}

#[handler]
pub fn hls_js(req: StaticFileRequest, Data(state): Data<&SharedState>) -> Response {
    let file = state.config.web_dir.join("node_modules/hls.js/dist/hls.min.js");
    send(req, file, "text/javascript; charset=utf-8")
}

/// The class colours as an ES module (`/ui/palette.js`), made from the palette the renderer draws
/// boxes in, so the page's swatches match the boxes and the list is written down only once.
#[handler]
pub fn palette() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(palette_module())
}

fn palette_module() -> String {
    let colours: Vec<String> = (0..PALETTE_LEN)
        .map(|id| {
            let [r, g, b] = class_colour(id as u16);
            format!("'#{r:02x}{g:02x}{b:02x}'")
        })
        .collect();
    format!("export const PALETTE = [{}];\n", colours.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_module_lists_every_class_colour() {
        let js = palette_module();
        let list = js
            .strip_prefix("export const PALETTE = [")
            .and_then(|rest| rest.strip_suffix("];\n"))
            .expect("one exported array");
        let colours: Vec<&str> = list.split(", ").collect();
        assert_eq!(colours.len(), PALETTE_LEN);
        assert_eq!(colours[0], "'#e62828'");
        for c in &colours {
            let hex = c
                .strip_prefix("'#")
                .and_then(|c| c.strip_suffix('\''))
                .expect("a quoted #rrggbb");
            assert!(hex.len() == 6 && hex.chars().all(|d| d.is_ascii_hexdigit()), "{c}");
        }
    }
}
