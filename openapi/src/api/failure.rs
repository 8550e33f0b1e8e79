//! Which errors an operation documents: each operation answers only some of the statuses an
//! `ApiError` can have, and its spec lists just those, so generated clients get one typed error
//! per status that can really come back.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::ApiResponse;
use sightline_actors::job::OptionError;
use sightline_actors::store::StoreError;

use super::error::ApiError;

/// The statuses an operation can answer with an error.
pub trait Statuses: Send + Sync + 'static {
    const LIST: &'static [u16];
}

/// An `ApiError` documented as one of `S`'s statuses. Requests the framework rejects before the
/// handler runs (a path or query value that does not parse) answer 400, so every set with
/// parameters has it; 500 is in every set.
pub struct Failure<S: Statuses>(ApiError, PhantomData<S>);

/// A read of the whole store: listings.
pub enum Listing {}
impl Statuses for Listing {
    const LIST: &'static [u16] = &[400, 500];
}

/// A read of one video or of something under it.
pub enum Lookup {}
impl Statuses for Lookup {
    const LIST: &'static [u16] = &[400, 404, 500];
}

/// An upload: the token, the body's size, what the file is, the queue and the disk.
pub enum Upload {}
impl Statuses for Upload {
    const LIST: &'static [u16] = &[400, 401, 413, 415, 422, 503, 507, 500];
}

/// A job run again: the token, the video's state, the queue, the disk. (Every body is held to
/// `max_body_kb`, this one's too: 413.)
pub enum Requeue {}
impl Statuses for Requeue {
    const LIST: &'static [u16] = &[400, 401, 404, 409, 413, 503, 507, 500];
}

/// A rendering: as a job run again, and its JSON body must say it is JSON (415).
pub enum Rendering {}
impl Statuses for Rendering {
    const LIST: &'static [u16] = &[400, 401, 404, 409, 413, 415, 503, 507, 500];
}

/// Setting a video's rules: the token, a JSON body, the video, and a store that may be full.
pub enum SetRules {}
impl Statuses for SetRules {
    const LIST: &'static [u16] = &[400, 401, 404, 413, 415, 507, 500];
}

/// Creating a webhook: the token, a JSON body, its checks, a target the policy refuses (422),
/// and a store that may be full.
pub enum WebhookCreation {}
impl Statuses for WebhookCreation {
    const LIST: &'static [u16] = &[400, 401, 413, 415, 422, 507, 500];
}

/// Adding a live source: the token, a JSON body and its checks, the limit of sources, and a store
/// or disk that may be full.
pub enum LiveCreation {}
impl Statuses for LiveCreation {
    const LIST: &'static [u16] = &[400, 401, 409, 413, 415, 507, 500];
}

/// Starting a live source again: the token, the source, the limit of sources (or one still
/// stopping), and a store or disk that may be full. (Every body is held to `max_body_kb`: 413.)
pub enum LiveStart {}
impl Statuses for LiveStart {
    const LIST: &'static [u16] = &[400, 401, 404, 409, 413, 507, 500];
}

/// Deleting a webhook. (Every body is held to `max_body_kb`: 413.)
pub enum WebhookDeletion {}
impl Statuses for WebhookDeletion {
    const LIST: &'static [u16] = &[400, 401, 404, 413, 507, 500];
}

/// A deletion: the token, its state, and a store that may be full. (Every body is held to
/// `max_body_kb`: 413.)
pub enum Removal {}
impl Statuses for Removal {
    const LIST: &'static [u16] = &[400, 401, 404, 409, 413, 507, 500];
}

impl<S: Statuses> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_some_and(|s| S::LIST.contains(&s)));
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<S: Statuses> IntoResponse for Failure<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<S: Statuses> From<Failure<S>> for poem::Error {
    fn from(f: Failure<S>) -> Self {
        f.0.into()
    }
}

impl<S: Statuses> From<ApiError> for Failure<S> {
    fn from(e: ApiError) -> Self {
        Failure(e, PhantomData)
    }
}

impl<S: Statuses> From<StoreError> for Failure<S> {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl<S: Statuses> From<OptionError> for Failure<S> {
    fn from(e: OptionError) -> Self {
        ApiError::from(e).into()
    }
}
