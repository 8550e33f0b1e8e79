//! The videos API: upload, list, status, stream state, detections, stats, events, retry, delete.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use sightline_actors::analytics::Rules;
use sightline_actors::detect::names::class_name;
use sightline_actors::job::{set_rules, JobOptions};
use sightline_actors::media::{probe, ProbeError};
use sightline_actors::store::{
    histogram, DetectionQuery, Progress, VideoId, VideoRecord, VideoStatus, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT,
};
use sightline_actors::telemetry;

use super::auth::TokenIfSet;
use super::error::ApiError;
use super::events::{self, EventsResponse};
use super::failure::{Failure, Listing, Lookup, Removal, Requeue, Upload};
use super::models::*;
use super::rules_body::RulesBody;
use super::video_id::VideoIdParam;
use crate::job_key::JobKey;
use crate::state::SharedState;

// The spec's bound on a detections page, written as a literal in its validator below.
const _: () = assert!(MAX_PAGE_LIMIT == 5000);

#[derive(Tags)]
enum ApiTags {
    /// Videos, their processing jobs and their detections.
    Videos,
}

pub struct VideosApi {
    pub state: SharedState,
}

#[derive(ApiResponse)]
enum UploadResponse {
    /// Accepted: the job is queued.
    #[oai(status = 202)]
    Accepted(Json<Accepted>),
}

#[derive(ApiResponse)]
enum StreamResponse {
    /// Something is playable: the master playlist URL.
    #[oai(status = 200)]
    Playable(Json<StreamState>),
    /// Nothing is playable yet; progress so far.
    #[oai(status = 202)]
    NotYet(Json<StreamState>),
}

#[derive(ApiResponse)]
enum DeleteResponse {
    /// Deleted: record, detections, stats, upload and streams.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Videos")]
impl VideosApi {
    /// Upload a video.
    ///
    /// Multipart: `file`, and optionally `model`, `confidence`, `classes` and `every`. The file is
    /// probed before a job is queued: not a video is 415, a video over an input limit 422. Answers
    /// 202 with the video's id and links; follow its job with `followEvents` or `getVideo`.
    #[oai(path = "/videos", method = "post", operation_id = "uploadVideo")]
    async fn upload(&self, _token: TokenIfSet, form: UploadForm) -> Result<UploadResponse, Failure<Upload>> {
        let st = &self.state;
        let options = self.options(&form)?;
        let rules = form
            .rules
            .as_deref()
            .map(|text| RulesBody::parse_form_field(text, &self.state.model.names))
            .transpose()?;
        let filename = form
            .file
            .file_name()
            .unwrap_or("upload")
            .chars()
            .take(255)
            .collect::<String>();
        if form.file.size() == 0 {
            return Err(ApiError::bad_request("the uploaded file is empty").into());
        }
        // The spooled body may have taken the last of the space.
        st.disk
            .check()
            .map_err(|low| ApiError::insufficient_storage(low.to_string()))?;
        // Copied under a random name in our own folder; the client's name is never a path.
        let incoming = tempfile::Builder::new()
            .prefix("incoming-")
            .tempfile_in(&st.uploads)
            .map_err(ApiError::storing)?;
        let mut dst = tokio::fs::File::from_std(incoming.reopen().map_err(ApiError::storing)?);
        let mut src = form.file.into_async_read();
        let size = tokio::io::copy(&mut src, &mut dst).await.map_err(ApiError::storing)?;
        drop(dst);
        let state = st.clone();
        let record = tokio::task::spawn_blocking(move || register(&state, incoming, filename, size, options, rules))
            .await
            .map_err(ApiError::internal)??;
        metrics::counter!(telemetry::UPLOADS_TOTAL).increment(1);
        tracing::info!(video = %record.id, filename = ?record.filename, bytes = size, "upload accepted");
        let id = record.id.to_string();
        Ok(UploadResponse::Accepted(Json(Accepted {
            links: Links::of(&id),
            id,
            status: Status::Queued,
        })))
    }

    /// List videos.
    ///
    /// Newest first, paged: pass a page's `next` as `after` for the next one.
    #[oai(path = "/videos", method = "get", operation_id = "listVideos")]
    async fn list(
        &self,
        /// Page size, 1..1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` of the previous page.
        after: Query<Option<VideoIdParam>>,
    ) -> Result<Json<VideoList>, Failure<Listing>> {
        let limit = limit.0.unwrap_or(50);
        let after = after.0.map(|a| a.0);
        let page = self.state.store.list_videos(after, limit as usize)?;
        Ok(Json(VideoList {
            items: page
                .items
                .into_iter()
                .map(|v| Video::from(&self.state.repairs.video(v)))
                .collect(),
            next: page.next_after.map(|id| id.to_string()),
        }))
    }

    /// Get one video.
    ///
    /// Its status, progress, metadata (size, length, frame rate, sound), the job's options, and
    /// links to its stream and events.
    #[oai(path = "/videos/:id", method = "get", operation_id = "getVideo")]
    async fn get(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<Video>, Failure<Lookup>> {
        Ok(Json(Video::from(&self.record(id.0 .0)?)))
    }

    /// Tell whether a video can be played.
    ///
    /// 202 with progress until every rendition has a segment, then 200 with the master playlist
    /// (`ended` once the playlists are complete).
    #[oai(path = "/videos/:id/stream", method = "get", operation_id = "getStream")]
    async fn stream(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<StreamResponse, Failure<Lookup>> {
        let record = self.record(id.0 .0)?;
        let live = self
            .state
            .jobs
            .progress(JobKey::process(record.id))
            .map(|rx| rx.borrow().clone());
        let dir = self.state.stream_dir(record.id);
        let playable_segments = match &live {
            Some(p) => p.playable_segments as u64,
            None => self.state.segments_on_disk(record.id),
        };
        let ended = record.status == VideoStatus::Ready;
        let state = StreamState {
            status: record.status.into(),
            progress: record.progress.fraction,
            playable_segments,
            master: None,
            ended,
        };
        let master_exists = dir.join("master.m3u8").is_file();
        if master_exists && (ended || playable_segments > 0) {
            Ok(StreamResponse::Playable(Json(StreamState {
                master: Some(Links::of(&record.id.to_string()).master),
                ..state
            })))
        } else {
            Ok(StreamResponse::NotYet(Json(state)))
        }
    }

    /// List a video's detections.
    ///
    /// Detections in a time window, filtered by class and confidence, in time order and paged by
    /// cursor: pass a page's `next_cursor` as `cursor` for the next one. A live source's window may
    /// also be given in wall-clock time (`start_at`, `end_at`), and its detections carry
    /// `captured_at`.
    #[oai(path = "/videos/:id/detections", method = "get", operation_id = "listDetections")]
    #[allow(clippy::too_many_arguments)]
    async fn detections(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// Window start in seconds (inclusive).
        start: Query<Option<f64>>,
        /// Window end in seconds (exclusive); default: the end of the video.
        end: Query<Option<f64>>,
        /// Live sources: window start as Unix milliseconds (inclusive), instead of `start`.
        start_at: Query<Option<u64>>,
        /// Live sources: window end as Unix milliseconds (exclusive), instead of `end`.
        end_at: Query<Option<u64>>,
        /// Class names to keep; repeat for several. None: every class.
        class: Query<Option<Vec<String>>>,
        /// Minimum confidence, 0..1.
        #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
        confidence: Query<Option<f32>>,
        /// Page size, 1..5000 (default 1000).
        #[oai(validator(minimum(value = "1"), maximum(value = "5000")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<DetectionPage>, Failure<Lookup>> {
        let record = self.record(id.0 .0)?;
        let start_s = start.0.unwrap_or(0.0);
        if !start_s.is_finite() || start_s < 0.0 {
            return Err(ApiError::bad_request(format!("start {start_s} must be a number of seconds ≥ 0")).into());
        }
        let mut end_ms = match end.0 {
            Some(e) if !e.is_finite() || e < start_s => {
                return Err(ApiError::bad_request(format!("end {e} must be ≥ start {start_s}")).into())
            }
            Some(e) => Some(ms(e)),
            None => None,
        };
        let mut start_ms = ms(start_s);
        if start_at.0.is_some() || end_at.0.is_some() {
            let epoch = record.live.as_ref().map(|l| l.epoch_ms).ok_or_else(|| {
                ApiError::bad_request("start_at and end_at are for live sources; an upload's window is start and end")
            })?;
            if start.0.is_some() || end.0.is_some() {
                return Err(
                    ApiError::bad_request("give the window as start/end or as start_at/end_at, not both").into(),
                );
            }
            if let (Some(a), Some(b)) = (start_at.0, end_at.0) {
                if b < a {
                    return Err(ApiError::bad_request(format!("end_at {b} must be ≥ start_at {a}")).into());
                }
            }
            start_ms = start_at.0.map_or(0, |a| a.saturating_sub(epoch));
            end_ms = end_at.0.map(|b| b.saturating_sub(epoch));
        }
        let min_confidence = confidence.0.unwrap_or(0.0);
        let limit = limit.0.unwrap_or(DEFAULT_PAGE_LIMIT as u32) as usize;
        let class_ids = class_ids(&record.class_names, &class.0.unwrap_or_default())?;
        let cursor = cursor
            .0
            .as_deref()
            .map(|c| c.parse().map_err(|e| ApiError::bad_request(format!("bad cursor: {e}"))))
            .transpose()?;
        let query = DetectionQuery {
            start_ms,
            end_ms,
            class_ids,
            min_confidence,
            limit,
            cursor,
        };
        let store = self.state.store.clone();
        let page = tokio::task::spawn_blocking(move || store.query_detections(record.id, &query))
            .await
            .map_err(ApiError::internal)??;
        Ok(Json(DetectionPage {
            items: page.items.iter().map(|d| item(&record, d)).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        }))
    }

    /// Get a video's statistics.
    ///
    /// Class distribution, an activity histogram in bins of `bin` seconds, and unique tracks per
    /// class.
    #[oai(path = "/videos/:id/stats", method = "get", operation_id = "getStats")]
    async fn stats(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// Histogram bin in seconds, 1..3600 (default 10).
        #[oai(validator(minimum(value = "1"), maximum(value = "3600")))]
        bin: Query<Option<u64>>,
    ) -> Result<Json<Stats>, Failure<Lookup>> {
        let record = self.record(id.0 .0)?;
        let bin_seconds = bin.0.unwrap_or(10);
        let stats = self.state.store.get_stats(record.id)?.unwrap_or_default();
        let rules = self.state.store.get_rules(record.id)?.unwrap_or_default();
        let bins = histogram(&stats, bin_seconds).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let name = |id: &u16| class_name(&record.class_names, *id as usize);
        Ok(Json(Stats {
            total_detections: stats.total_detections,
            frames_with_detections: stats.frames_detected,
            classes: stats
                .class_counts
                .iter()
                .map(|(id, n)| ClassStats {
                    class: name(id),
                    class_id: *id,
                    detections: *n,
                    unique_tracks: stats.unique_tracks.get(id).copied().unwrap_or(0),
                })
                .collect(),
            bin_seconds,
            histogram: bins
                .into_iter()
                .map(|b| Bin {
                    start: b.start_s,
                    counts: b
                        .counts
                        .iter()
                        .map(|(id, n)| (name(id), *n))
                        .collect::<BTreeMap<_, _>>(),
                })
                .collect(),
            analytics_events: rules
                .by_kind
                .iter()
                .map(|(kind, n)| (kind.as_str().to_string(), *n))
                .collect(),
        }))
    }

    /// List a video's tracks.
    ///
    /// Tracked objects by track id: class, first and last seen, frames; paged with `after`.
    #[oai(path = "/videos/:id/tracks", method = "get", operation_id = "listTracks")]
    async fn tracks(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// Page size, 1..1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// The `next` of the previous page.
        after: Query<Option<u64>>,
    ) -> Result<Json<TrackList>, Failure<Lookup>> {
        let record = self.record(id.0 .0)?;
        let stats = self.state.store.get_stats(record.id)?.unwrap_or_default();
        let limit = limit.0.unwrap_or(100) as usize;
        let start = after.0.map_or(0, |a| a.saturating_add(1));
        let mut page: Vec<Track> = stats
            .tracks
            .range(start..)
            .take(limit + 1)
            .map(|(id, t)| Track {
                track_id: *id,
                class: class_name(&record.class_names, t.class_id as usize),
                first_seen: t.first_ms as f64 / 1000.0,
                last_seen: t.last_ms as f64 / 1000.0,
                frames: t.frames,
                detected_frames: t.detected_frames,
            })
            .collect();
        let next = (page.len() > limit).then(|| {
            page.truncate(limit);
            page.last().map_or(0, |t| t.track_id)
        });
        Ok(Json(TrackList { items: page, next }))
    }

    /// Follow a video's job as server-sent events.
    ///
    /// A `status` event at once, `progress` events while the job runs, `status` when it changes;
    /// the stream ends once the job has ended (at once for a video that is already `ready`). It
    /// takes `Accept: text/event-stream`, as browsers' `EventSource` sends; without it, the latest
    /// event alone, as JSON.
    #[oai(path = "/videos/:id/events", method = "get", operation_id = "followEvents")]
    async fn events(
        &self,
        req: &poem::Request,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<EventsResponse, Failure<Lookup>> {
        let record = self.record(id.0 .0)?;
        let accept = req
            .headers()
            .get(poem::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        if events::wants_stream(accept) {
            let stream = events::follow(self.state.clone(), record.id).boxed();
            return Ok(EventsResponse::Stream(stream));
        }
        let (event, _) = events::latest(&self.state, record.id, EventKind::Status)
            .ok_or_else(|| ApiError::not_found(format!("no video {}", record.id)))?;
        Ok(EventsResponse::Latest(event))
    }

    /// Run a video's job again.
    ///
    /// Only `interrupted` or `failed` jobs are run again (409 otherwise); the upload must still be on
    /// the server.
    #[oai(path = "/videos/:id/retry", method = "post", operation_id = "retryVideo")]
    async fn retry(
        &self,
        _token: TokenIfSet,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<UploadResponse, Failure<Requeue>> {
        let record = self.record(id.0 .0)?;
        if !matches!(record.status, VideoStatus::Interrupted | VideoStatus::Failed) {
            return Err(ApiError::conflict(format!(
                "video {} is {}; only interrupted or failed jobs are retried",
                record.id, record.status
            ))
            .into());
        }
        if !self.state.upload_path(record.id).is_file() {
            return Err(ApiError::conflict("the uploaded file is gone; upload the video again").into());
        }
        self.state.store.update_video(record.id, |v| {
            v.status = VideoStatus::Queued;
            v.error = None;
            v.progress = Progress::new(0, v.progress.frames_total);
            v.detections = 0;
        })?;
        self.state.repairs.forget(JobKey::process(record.id));
        if let Err(e) = self.state.jobs.submit(JobKey::process(record.id)) {
            let _ = self.state.store.update_video(record.id, |v| v.status = record.status);
            return Err(ApiError::unavailable(e.to_string()).into());
        }
        let id = record.id.to_string();
        Ok(UploadResponse::Accepted(Json(Accepted {
            links: Links::of(&id),
            id,
            status: Status::Queued,
        })))
    }

    /// Delete a video.
    ///
    /// Its record, detections, stats, upload, streams and renderings. A video being processed is
    /// not deleted (409).
    #[oai(path = "/videos/:id", method = "delete", operation_id = "deleteVideo")]
    async fn delete(
        &self,
        _token: TokenIfSet,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<DeleteResponse, Failure<Removal>> {
        let record = self.record(id.0 .0)?;
        if self.state.live.is_running(record.id) {
            return Err(ApiError::conflict(format!(
                "video {} is a running live source; stop it first (DELETE /api/live/{})",
                record.id, record.id
            ))
            .into());
        }
        if record.status == VideoStatus::Processing || self.state.jobs.any_running(|k| k.video == record.id) {
            return Err(ApiError::conflict(format!(
                "video {} is being processed; delete it when it has ended",
                record.id
            ))
            .into());
        }
        // Files first: on a full disk they free the space the store needs to record the removal.
        let _ = std::fs::remove_file(self.state.upload_path(record.id));
        let _ = std::fs::remove_dir_all(self.state.stream_dir(record.id));
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || store.retry_after_reopen(|s| s.delete_video(record.id)))
            .await
            .map_err(ApiError::internal)??;
        self.state.repairs.forget(JobKey::process(record.id));
        self.state.live.forget(record.id);
        Ok(DeleteResponse::Deleted)
    }
}

impl VideosApi {
    fn record(&self, id: VideoId) -> Result<VideoRecord, ApiError> {
        stored_video(&self.state, id)
    }

    /// The job's options, from the form and the server's defaults, validated.
    fn options(&self, form: &UploadForm) -> Result<JobOptions, ApiError> {
        let st = &self.state;
        if let Some(m) = &form.model {
            if *m != st.model_name() {
                return Err(ApiError::bad_request(format!(
                    "unknown model '{m}'; available: {}",
                    st.model_name()
                )));
            }
        }
        let defaults = st.config.job_defaults();
        let options = JobOptions {
            confidence: form.confidence.unwrap_or(defaults.confidence),
            every: form.every.unwrap_or(defaults.every),
            classes: form
                .classes
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
            ..defaults
        };
        options.validate(&st.model.names)?;
        Ok(options)
    }
}

/// The video as it stands (a job end the store has not taken yet included), or 404.
pub(super) fn stored_video(st: &SharedState, id: VideoId) -> Result<VideoRecord, ApiError> {
    let record = st
        .store
        .get_video(id)?
        .ok_or_else(|| ApiError::not_found(format!("no video {id}")))?;
    Ok(st.repairs.video(record))
}

/// Class names as a video's class ids; an unknown name is a 400 that names it.
pub(super) fn class_ids(names: &[String], classes: &[String]) -> Result<Vec<u16>, ApiError> {
    classes
        .iter()
        .map(|c| {
            names
                .iter()
                .position(|n| n == c)
                .map(|i| i as u16)
                .ok_or_else(|| ApiError::bad_request(format!("unknown class '{c}'")))
        })
        .collect()
}

/// Seconds as milliseconds, saturating far beyond any video's length.
pub(super) fn ms(seconds: f64) -> u64 {
    (seconds * 1000.0).min(u64::MAX as f64 / 2.0) as u64
}

/// Probes an incoming file and, if it is a video, records it and queues its job. The file is
/// moved into the uploads folder under the video's id; on any refusal it is deleted.
pub(crate) fn register(
    st: &SharedState,
    incoming: tempfile::NamedTempFile,
    filename: String,
    size: u64,
    options: JobOptions,
    rules: Option<Rules>,
) -> Result<VideoRecord, ApiError> {
    let video = probe(incoming.path(), Duration::from_secs(15)).map_err(|e| match e {
        ProbeError::NotVideo { .. } => ApiError::unsupported(format!("'{filename}' is not a video we can decode")),
        ProbeError::NoDecoder { codec, .. } => {
            ApiError::unsupported(format!("'{filename}': no decoder for {codec} is installed"))
        }
        ProbeError::NoVideoStream(_) => ApiError::unprocessable(format!("'{filename}' has no video stream")),
        ProbeError::Empty(_) => ApiError::bad_request("the uploaded file is empty"),
        other => ApiError::internal(other),
    })?;
    st.config
        .input_limits()
        .check(&video)
        .map_err(|e| ApiError::over_limit(format!("'{filename}': {e}")))?;
    let record = st.store.create_video(VideoRecord::queued(
        filename,
        size,
        &video,
        st.model_name(),
        st.model.names.clone(),
        options,
    ))?;
    if let Err(e) = incoming.persist(st.upload_path(record.id)) {
        let _ = st.store.delete_video(record.id);
        return Err(ApiError::storing(e.error));
    }
    // Before the job is queued, so its end finds them.
    if let Some(rules) = rules {
        if let Err(e) = set_rules(&st.store, record.id, rules) {
            let _ = st.store.delete_video(record.id);
            let _ = std::fs::remove_file(st.upload_path(record.id));
            return Err(e.into());
        }
    }
    if let Err(e) = st.jobs.submit(JobKey::process(record.id)) {
        let _ = st.store.delete_video(record.id);
        let _ = std::fs::remove_file(st.upload_path(record.id));
        return Err(ApiError::unavailable(e.to_string()));
    }
    Ok(record)
}

/// Queues a file already on the server's disk (the sample video on a first start).
pub(crate) fn ingest_file(st: &SharedState, path: &std::path::Path) -> Result<VideoId, String> {
    let incoming = tempfile::Builder::new()
        .prefix("incoming-")
        .tempfile_in(&st.uploads)
        .map_err(|e| e.to_string())?;
    let size = std::fs::copy(path, incoming.path()).map_err(|e| e.to_string())?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    register(st, incoming, filename, size, st.config.job_defaults(), None)
        .map(|r| r.id)
        .map_err(|e| format!("{e:?}"))
}

fn item(record: &VideoRecord, d: &sightline_actors::store::StoredDetection) -> DetectionItem {
    let names = &record.class_names;
    DetectionItem {
        captured_at: record.live.as_ref().map(|l| l.epoch_ms + d.pts_ms),
        frame: d.frame,
        time: d.pts_ms as f64 / 1000.0,
        class: class_name(names, d.class_id as usize),
        class_id: d.class_id,
        confidence: round4(d.confidence),
        bbox: d.bbox.iter().map(|v| round4(*v)).collect(),
        track_id: d.track_id,
        source: if d.predicted {
            Source::Predicted
        } else {
            Source::Detected
        },
    }
}
