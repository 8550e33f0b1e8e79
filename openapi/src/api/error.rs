//! Errors as the API reports them: a status and `{ "error": code, "message": text }`.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use sightline_actors::job::OptionError;

#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `not_found`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or a value is out of range.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// A token is required and missing or wrong.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// No such video.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The video is not in a state that allows this.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The upload is larger than the configured limit.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The upload is not a video we can decode.
    #[oai(status = 415)]
    Unsupported(Json<ErrorBody>),
    /// The upload is a file we understand but cannot process: no video stream, or over one of the
    /// server's input limits (`error` is `input_limit` and the message names the limit).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// The server is busy (job queue full) or not ready.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
    /// The data folder is short of space (below `min_free_mb`).
    #[oai(status = 507)]
    InsufficientStorage(Json<ErrorBody>),
    /// Something failed on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
}

fn body(error: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: error.into(),
        message: message.into(),
    })
}

impl ApiError {
    pub fn bad_request(m: impl Into<String>) -> Self {
        ApiError::BadRequest(body("bad_request", m))
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        ApiError::NotFound(body("not_found", m))
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        ApiError::Conflict(body("conflict", m))
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        ApiError::TooLarge(body("too_large", m))
    }
    pub fn unsupported(m: impl Into<String>) -> Self {
        ApiError::Unsupported(body("unsupported_media", m))
    }
    pub fn unprocessable(m: impl Into<String>) -> Self {
        ApiError::Unprocessable(body("unprocessable", m))
    }
    pub fn over_limit(m: impl Into<String>) -> Self {
        ApiError::Unprocessable(body("input_limit", m))
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        ApiError::Unavailable(body("unavailable", m))
    }
    pub fn insufficient_storage(m: impl Into<String>) -> Self {
        ApiError::InsufficientStorage(body("insufficient_storage", m))
    }
    /// Writing an upload failed: a full disk is the client's 507, anything else is ours.
    pub fn storing(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            ApiError::insufficient_storage(format!("the data folder is full: {e}"))
        } else {
            ApiError::internal(e)
        }
    }
    pub fn internal(m: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {m}");
        ApiError::Internal(body("internal", m.to_string()))
    }
}

impl From<sightline_actors::store::StoreError> for ApiError {
    fn from(e: sightline_actors::store::StoreError) -> Self {
        use sightline_actors::store::StoreError;
        match e {
            StoreError::NotFound(id) => ApiError::not_found(format!("no video {id}")),
            StoreError::InvalidQuery(_) | StoreError::Cursor(_) => ApiError::bad_request(e.to_string()),
            StoreError::Sled(sled::Error::Io(io)) if io.kind() == std::io::ErrorKind::StorageFull => {
                ApiError::insufficient_storage(format!("the data folder is full: {io}"))
            }
            other => ApiError::internal(other),
        }
    }
}

/// A bad job or render option: its message names the field.
impl From<OptionError> for ApiError {
    fn from(e: OptionError) -> Self {
        ApiError::bad_request(e.message)
    }
}

/// The same JSON error body, for responses outside the OpenAPI operations (middleware, files).
pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message });
    poem::web::Json(body).with_status(status).into_response()
}
