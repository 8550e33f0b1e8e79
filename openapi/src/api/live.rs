//! Live sources: cameras (RTSP) and live HLS streams, processed continuously. Each is a video of
//! kind `live` in the same id space as uploads, so the videos endpoints (stream, detections,
//! stats, tracks, analytics) work on it too.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use sightline_actors::job::{set_rules, JobOptions};
use sightline_actors::live::{Gap, LiveReport, LiveState, LiveUrl};
use sightline_actors::store::{now_ms, LiveSettings, VideoRecord};

use super::auth::TokenIfSet;
use super::error::ApiError;
use super::failure::{Failure, Listing, LiveCreation, LiveStart, Lookup, Removal};
use super::models::Links;
use super::rules_body::RulesBody;
use super::video_id::VideoIdParam;
use crate::live::StartError;
use crate::state::SharedState;

/// How long a start waits for the source's earlier run to end its stream.
const STOPPING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Tags)]
enum ApiTags {
    /// Cameras and live streams, processed as they arrive.
    Live,
}

pub struct LiveApi {
    pub state: SharedState,
}

/// A live source to add.
#[derive(Debug, Clone, Object)]
pub struct LiveSourceRequest {
    /// `rtsp://` or `rtsps://` (a camera), or `http(s)://…/….m3u8` (a live HLS stream).
    /// Credentials may be in it (`rtsp://user:password@host/…`); they are never shown back.
    #[oai(validator(max_length = 2048))]
    pub url: String,
    /// Display name; default: the URL's host and path.
    #[oai(validator(max_length = 255))]
    pub name: Option<String>,
    /// User and password, when not in the URL.
    #[oai(validator(max_length = 255))]
    pub username: Option<String>,
    #[oai(validator(max_length = 255))]
    pub password: Option<String>,
    /// Model name (the file stem of a loaded model); default: the server's model.
    pub model: Option<String>,
    /// Minimum confidence of a detection, 0..1.
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub confidence: Option<f32>,
    /// Class names to keep, e.g. `["person", "car"]`; absent: every class.
    #[oai(default)]
    pub classes: Vec<String>,
    /// Detect at least every N-th frame (1..1000); when detection cannot keep up, frames between
    /// detections are tracked only (see `dropped_detections`).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub every: Option<u64>,
    /// Zones and lines, evaluated as frames arrive.
    pub rules: Option<RulesBody>,
}

/// A live source's state: `reconnecting` while the stream is reopened after a drop, or while a
/// run that failed (a full disk, an encoder or store error) waits to run again, by itself;
/// `failed` only for a cause that cannot pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LiveStateView {
    Connecting,
    Live,
    Reconnecting,
    Stopped,
    Failed,
}

impl From<LiveState> for LiveStateView {
    fn from(s: LiveState) -> Self {
        match s {
            LiveState::Connecting => Self::Connecting,
            LiveState::Live => Self::Live,
            LiveState::Reconnecting => Self::Reconnecting,
            LiveState::Stopped => Self::Stopped,
            LiveState::Failed => Self::Failed,
        }
    }
}

/// A stretch of time in which the source sent nothing (the playlist marks it as a discontinuity).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LiveGap {
    /// Unix milliseconds of the last frame before it.
    pub from: u64,
    /// Unix milliseconds of the first frame after it; absent while it lasts.
    pub to: Option<u64>,
}

impl From<Gap> for LiveGap {
    fn from(g: Gap) -> Self {
        LiveGap {
            from: g.from_ms,
            to: g.to_ms,
        }
    }
}

/// A live source and how it is doing. The figures are those of `/metrics`' `sightline_live_*`
/// series for this video.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LiveSource {
    /// The video id: the videos endpoints take it.
    pub id: String,
    pub name: String,
    /// The URL, its password hidden.
    pub url: String,
    // No doc comment: poem-openapi would wrap the enum's `$ref` in an `allOf` to carry it, which
    // client generators cannot take (see `ErrorBody`). `LiveStateView` says what each value means.
    pub state: LiveStateView,
    /// Why it failed, or why the last attempt to reach it, or its last run, did.
    pub reason: Option<String>,
    /// Failed attempts (to connect, or runs) in a row.
    pub failed_attempts: u32,
    /// Times the stream was reopened after a drop.
    pub reconnects: u64,
    /// Frames per second the source sends.
    pub input_fps: f64,
    /// Frames per second encoded into the stream.
    pub processed_fps: f64,
    /// From the capture of the last listed segment's first frame to its listing, in ms.
    pub latency_ms: Option<u64>,
    pub frames_in: u64,
    /// Frames the source sent that were not processed (the server was behind).
    pub dropped_frames: u64,
    /// Frames due for detection that were tracked only (detection was behind).
    pub dropped_detections: u64,
    /// The most recent gaps in the source, oldest first.
    pub gaps: Vec<LiveGap>,
    /// Unix milliseconds at the source's time 0: a detection's date is this plus its `time`.
    pub epoch_ms: u64,
    pub links: Links,
}

#[derive(Debug, Clone, Object)]
pub struct LiveSourceList {
    pub items: Vec<LiveSource>,
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Added and starting: follow `state`.
    #[oai(status = 201)]
    Created(Json<LiveSource>),
}

/// The source's view: its record and its figures.
fn view(st: &SharedState, record: &VideoRecord) -> Option<LiveSource> {
    let settings = record.live.as_ref()?;
    let report: LiveReport = st.live.report(record);
    let id = record.id.to_string();
    Some(LiveSource {
        links: Links::of(&id),
        id,
        name: record.filename.clone(),
        url: LiveUrl::parse(&settings.url).map_or_else(|_| "(invalid)".into(), |u| u.to_string()),
        state: report.state.into(),
        reason: report.reason,
        failed_attempts: report.failed_attempts,
        reconnects: report.reconnects,
        input_fps: round2(report.input_fps),
        processed_fps: round2(report.processed_fps),
        latency_ms: report.latency_ms,
        frames_in: report.frames_in,
        dropped_frames: report.dropped_frames,
        dropped_detections: report.dropped_detections,
        gaps: report.gaps.into_iter().map(Into::into).collect(),
        epoch_ms: settings.epoch_ms,
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Live")]
impl LiveApi {
    /// Add a live source.
    ///
    /// Starts processing it at once: detection, tracking, drawing and a live HLS stream whose
    /// playlists slide over the last `live_dvr_segments` segments. 409 when `max_live_sources`
    /// are running. Sources are kept and started again when the server restarts, until stopped.
    #[oai(path = "/live", method = "post", operation_id = "addLiveSource")]
    async fn add(
        &self,
        _token: TokenIfSet,
        body: Json<LiveSourceRequest>,
    ) -> Result<CreatedResponse, Failure<LiveCreation>> {
        let st = &self.state;
        let req = body.0;
        let url = LiveUrl::parse(&req.url).map_err(ApiError::bad_request)?;
        if let Some(m) = &req.model {
            if *m != st.model_name() {
                return Err(
                    ApiError::bad_request(format!("unknown model '{m}'; available: {}", st.model_name())).into(),
                );
            }
        }
        if req.username.is_some() != req.password.is_some() {
            return Err(ApiError::bad_request("give both username and password, or neither").into());
        }
        let defaults = st.config.job_defaults();
        let options = JobOptions {
            confidence: req.confidence.unwrap_or(defaults.confidence),
            every: req.every.unwrap_or(defaults.every),
            classes: req.classes.clone(),
            ..defaults
        };
        options.validate(&st.model.names)?;
        let rules = req.rules.map(|r| r.into_rules(&st.model.names)).transpose()?;
        if st.live.running() >= st.config.max_live_sources {
            return Err(ApiError::conflict(StartError::Full(st.config.max_live_sources).to_string()).into());
        }
        st.disk
            .check()
            .map_err(|low| ApiError::insufficient_storage(low.to_string()))?;
        let name = req
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_name(&url));
        let settings = LiveSettings {
            url: url.as_secret_str().to_string(),
            username: req.username,
            password: req.password,
            epoch_ms: now_ms(),
            stopped: false,
            track_ids_reserved: 0,
        };
        let record = st.store.create_video(VideoRecord::live(
            name,
            settings,
            st.model_name(),
            st.model.names.clone(),
            options,
        ))?;
        if let Some(rules) = rules {
            if let Err(e) = set_rules(&st.store, record.id, rules) {
                let _ = st.store.delete_video(record.id);
                return Err(e.into());
            }
        }
        if let Err(e) = st.live.start(&record) {
            let _ = st.store.delete_video(record.id);
            return Err(ApiError::conflict(e.to_string()).into());
        }
        tracing::info!(video = %record.id, url = %url, "live source added");
        let view = view(st, &record).ok_or_else(|| ApiError::internal("the new source has no settings"))?;
        Ok(CreatedResponse::Created(Json(view)))
    }

    /// List live sources.
    ///
    /// Every live source, running or not, newest first, with its state and figures.
    #[oai(path = "/live", method = "get", operation_id = "listLiveSources")]
    async fn list(&self) -> Result<Json<LiveSourceList>, Failure<Listing>> {
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let page = self.state.store.list_videos(after, 1000)?;
            items.extend(page.items.iter().filter_map(|r| view(&self.state, r)));
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        Ok(Json(LiveSourceList { items }))
    }

    /// Get one live source.
    ///
    /// Its state, the reason of a failure or of the last failed attempt, its rates, latency,
    /// drops, reconnects and latest gaps.
    #[oai(path = "/live/:id", method = "get", operation_id = "getLiveSource")]
    async fn get(
        &self,
        /// The source's video id, as `addLiveSource` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<LiveSource>, Failure<Lookup>> {
        let record = self.live_record(id.0 .0)?;
        Ok(Json(view(&self.state, &record).ok_or_else(|| not_live(&record))?))
    }

    /// Stop a live source.
    ///
    /// Its stream is ended (the playlists keep their last window, with an end tag) and it is not
    /// started again with the server. Its detections and events stay until the video is deleted
    /// (`deleteVideo`). Stopping a stopped source changes nothing.
    #[oai(path = "/live/:id", method = "delete", operation_id = "stopLiveSource")]
    async fn stop(
        &self,
        _token: TokenIfSet,
        /// The source's video id, as `addLiveSource` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<LiveSource>, Failure<Removal>> {
        let record = self.live_record(id.0 .0)?;
        let record = self.state.store.update_video(record.id, |v| {
            if let Some(live) = v.live.as_mut() {
                live.stopped = true;
            }
        })?;
        if self.state.live.stop(record.id) {
            tracing::info!(video = %record.id, "live source stopping");
        }
        Ok(Json(view(&self.state, &record).ok_or_else(|| not_live(&record))?))
    }

    /// Start a live source again.
    ///
    /// A stopped or failed source is started again where it left off: the same id, its
    /// detections, events, stats and track numbers kept, its playlists going on after a
    /// discontinuity (the earlier run's segments are not kept). It is then started with the
    /// server again. A source still ending its stream after a stop is waited for (up to 10 s).
    /// 409 when `max_live_sources` are running or it has not stopped by then; starting a running
    /// source changes nothing.
    #[oai(path = "/live/:id/start", method = "post", operation_id = "startLiveSource")]
    async fn start(
        &self,
        _token: TokenIfSet,
        /// The source's video id, as `addLiveSource` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<LiveSource>, Failure<LiveStart>> {
        let st = &self.state;
        let record = self.live_record(id.0 .0)?;
        if !st.live.is_active(record.id) {
            st.disk
                .check()
                .map_err(|low| ApiError::insufficient_storage(low.to_string()))?;
            st.live
                .start_when_stopped(&record, STOPPING_WAIT)
                .await
                .map_err(|e| ApiError::conflict(e.to_string()))?;
            tracing::info!(video = %record.id, "live source started again");
        }
        let record = st.store.update_video(record.id, |v| {
            if let Some(live) = v.live.as_mut() {
                live.stopped = false;
            }
        })?;
        Ok(Json(view(st, &record).ok_or_else(|| not_live(&record))?))
    }
}

impl LiveApi {
    /// The record of live source `id`: 404 when there is no such video or it is an upload.
    fn live_record(&self, id: sightline_actors::store::VideoId) -> Result<VideoRecord, ApiError> {
        let record = super::videos::stored_video(&self.state, id)?;
        if record.live.is_none() {
            return Err(not_live(&record));
        }
        Ok(record)
    }
}

fn not_live(record: &VideoRecord) -> ApiError {
    ApiError::not_found(format!("video {} is an upload, not a live source", record.id))
}

/// Host and path of the URL, without credentials or query.
fn default_name(url: &LiveUrl) -> String {
    let shown = url.to_string();
    let rest = shown.split_once("://").map_or(shown.as_str(), |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['?', '#'])
        .next()
        .unwrap_or(rest)
        .chars()
        .take(255)
        .collect()
}
