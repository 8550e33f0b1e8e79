//! Errors as the API reports them: a status and `{ "error": code, "message": text }`.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object};
use sightline_actors::job::OptionError;

/// What went wrong, for code: one value per kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A malformed request or a value out of range (400).
    BadRequest,
    /// A token is needed and missing or wrong (401).
    Unauthorized,
    /// The request's origin is not one `cors_origins` allows (403).
    Forbidden,
    /// No such video, rendering or file (404).
    NotFound,
    /// The method is not one the path takes (405).
    MethodNotAllowed,
    /// The video is not in a state that allows this (409).
    Conflict,
    /// The body is over its limit: `max_upload_mb` for an upload, `max_body_kb` for any other (413).
    TooLarge,
    /// Not a video, or one no installed decoder reads (415).
    UnsupportedMedia,
    /// A video without a video stream (422).
    Unprocessable,
    /// A video over one of the server's input limits; the message names it (422).
    InputLimit,
    /// The job queue is full or the server is not ready (503).
    Unavailable,
    /// The data folder is short of space (507).
    InsufficientStorage,
    /// Something failed on the server's side (500).
    Internal,
}

#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    // No doc comment: poem-openapi would wrap the enum's `$ref` in an `allOf` to carry it, and
    // client generators cannot take an `allOf` of a string enum (openapi-python-client drops the
    // whole schema). `ErrorCode`'s own description says what it is.
    pub error: ErrorCode,
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
    /// The body is larger than its configured limit (`max_upload_mb`, `max_body_kb`).
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

fn body(error: ErrorCode, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        error,
        message: message.into(),
    })
}

impl ApiError {
    pub fn bad_request(m: impl Into<String>) -> Self {
        ApiError::BadRequest(body(ErrorCode::BadRequest, m))
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        ApiError::NotFound(body(ErrorCode::NotFound, m))
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        ApiError::Conflict(body(ErrorCode::Conflict, m))
    }
    pub fn too_large(m: impl Into<String>) -> Self {
        ApiError::TooLarge(body(ErrorCode::TooLarge, m))
    }
    pub fn unsupported(m: impl Into<String>) -> Self {
        ApiError::Unsupported(body(ErrorCode::UnsupportedMedia, m))
    }
    pub fn unprocessable(m: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(ErrorCode::Unprocessable, m))
    }
    pub fn over_limit(m: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(ErrorCode::InputLimit, m))
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        ApiError::Unavailable(body(ErrorCode::Unavailable, m))
    }
    pub fn insufficient_storage(m: impl Into<String>) -> Self {
        ApiError::InsufficientStorage(body(ErrorCode::InsufficientStorage, m))
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
        ApiError::Internal(body(ErrorCode::Internal, m.to_string()))
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
pub(crate) fn json_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = ErrorBody {
        error: code,
        message: message.into(),
    };
    poem::web::Json(body.to_json()).with_status(status).into_response()
}
