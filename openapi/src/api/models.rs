//! What the API sends and receives, as OpenAPI schemas.

use std::collections::BTreeMap;

use poem_openapi::types::multipart::Upload;
use poem_openapi::{Enum, Multipart, Object};
use sightline_actors::job::{JobOptions, RenderOptions};
use sightline_actors::store::{VideoRecord, VideoStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Processing,
    Ready,
    Failed,
    Interrupted,
}

impl From<VideoStatus> for Status {
    fn from(s: VideoStatus) -> Self {
        match s {
            VideoStatus::Queued => Status::Queued,
            VideoStatus::Processing => Status::Processing,
            VideoStatus::Ready => Status::Ready,
            VideoStatus::Failed => Status::Failed,
            VideoStatus::Interrupted => Status::Interrupted,
        }
    }
}

/// An upload: the video file and the job's options.
#[derive(Debug, Multipart)]
pub struct UploadForm {
    /// The video file.
    pub file: Upload,
    /// Model name (the file stem of a loaded model); default: the server's model.
    pub model: Option<String>,
    /// Minimum confidence of a detection, 0..1.
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub confidence: Option<f32>,
    /// Comma-separated class names to keep, e.g. `person,car`.
    pub classes: Option<String>,
    /// Detect every N-th frame (1..1000).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub every: Option<u64>,
    /// Zones and lines, as JSON: the body `setRules` takes. Evaluated when the job ends.
    pub rules: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Links {
    /// This video's record.
    pub video: String,
    /// Whether and where it can be played.
    pub stream: String,
    /// Server-sent events with progress and status changes.
    pub events: String,
    /// The HLS master playlist (may not exist yet).
    pub master: String,
}

impl Links {
    pub fn of(id: &str) -> Self {
        Links {
            video: format!("/api/videos/{id}"),
            stream: format!("/api/videos/{id}/stream"),
            events: format!("/api/videos/{id}/events"),
            master: format!("/streams/{id}/master.m3u8"),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Accepted {
    pub id: String,
    pub status: Status,
    pub links: Links,
}

/// Where a video's frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum VideoKind {
    /// An uploaded file.
    Upload,
    /// A camera or live stream (`/api/live`).
    Live,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Video {
    pub id: String,
    pub kind: VideoKind,
    /// Live sources: Unix milliseconds at time 0, so a detection's date is this plus its `time`.
    pub epoch_ms: Option<u64>,
    /// Name the file was uploaded under (display only).
    pub filename: String,
    pub size_bytes: u64,
    pub duration_ms: u64,
    pub fps: f64,
    /// The picture's size as shown: a file tagged to be turned a quarter reports it turned.
    pub width: u32,
    pub height: u32,
    /// The file has a sound track, kept in every rendition (an `audio` group in the master).
    pub has_audio: bool,
    pub model: String,
    pub status: Status,
    /// 0..1
    pub progress: f32,
    pub frames_done: u64,
    pub frames_total: Option<u64>,
    pub error: Option<String>,
    /// What the last job did without though it ended `ready`, e.g. a sound track it could not read.
    pub warnings: Vec<String>,
    pub detections: u64,
    /// The job's detection options.
    pub options: JobOptionsView,
    /// Unix milliseconds.
    pub created_at: u64,
    pub updated_at: u64,
    pub links: Links,
}

impl From<&VideoRecord> for Video {
    fn from(r: &VideoRecord) -> Self {
        let id = r.id.to_string();
        Video {
            links: Links::of(&id),
            id,
            kind: if r.live.is_some() {
                VideoKind::Live
            } else {
                VideoKind::Upload
            },
            epoch_ms: r.live.as_ref().map(|l| l.epoch_ms),
            filename: r.filename.clone(),
            size_bytes: r.size_bytes,
            duration_ms: r.duration_ms,
            fps: r.fps,
            width: r.width,
            height: r.height,
            has_audio: r.has_audio,
            model: r.model.clone(),
            status: r.status.into(),
            progress: r.progress.fraction,
            frames_done: r.progress.frames_done,
            frames_total: r.progress.frames_total,
            error: r.error.clone(),
            warnings: r.warnings.clone(),
            detections: r.detections,
            options: JobOptionsView::from(&r.options),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VideoList {
    pub items: Vec<Video>,
    /// Pass as `after` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamState {
    pub status: Status,
    /// 0..1
    pub progress: f32,
    /// Every rendition has this many finished segments.
    pub playable_segments: u64,
    /// The master playlist, once something is playable.
    pub master: Option<String>,
    /// The playlists are complete (`#EXT-X-ENDLIST`).
    pub ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Source {
    Detected,
    Predicted,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DetectionItem {
    pub frame: u64,
    /// Presentation time in seconds.
    pub time: f64,
    pub class: String,
    pub class_id: u16,
    pub confidence: f64,
    /// x1, y1, x2, y2 normalised to the frame (0..1).
    #[oai(rename = "box", validator(min_items = 4, max_items = 4))]
    pub bbox: Vec<f64>,
    pub track_id: Option<u64>,
    pub source: Source,
    /// Live sources: when the frame was captured, Unix milliseconds.
    pub captured_at: Option<u64>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DetectionPage {
    pub items: Vec<DetectionItem>,
    /// Pass as `cursor` for the next page; absent when there is none.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ClassStats {
    pub class: String,
    pub class_id: u16,
    pub detections: u64,
    pub unique_tracks: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Bin {
    /// Start of the bin in seconds.
    pub start: u64,
    /// Detections per class in the bin.
    pub counts: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Stats {
    pub total_detections: u64,
    /// Frames with at least one detection.
    pub frames_with_detections: u64,
    pub classes: Vec<ClassStats>,
    pub bin_seconds: u64,
    pub histogram: Vec<Bin>,
    /// Events the video's rules raised, by kind (`line_crossed`, `zone_entered`, `zone_left`,
    /// `dwell_exceeded`); empty without rules. `listAnalyticsEvents` and `getAnalyticsCounts`
    /// give the details.
    pub analytics_events: BTreeMap<String, u64>,
}

/// The only answer a live process gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Liveness {
    Ok,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Health {
    pub status: Liveness,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Readiness {
    pub ready: bool,
    pub workers: u64,
    pub jobs_running: u64,
    pub jobs_waiting: u64,
    /// MiB free in the data folder, and the floor (`min_free_mb`) it must stay above.
    pub free_mb: u64,
    pub min_free_mb: u64,
    /// Whether the store took a write just now.
    pub store_writable: bool,
    /// Job ends the store has not taken yet (written as soon as it does).
    pub unrecorded_jobs: u64,
    /// Why the server is not ready, when it is not.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

/// Why an event was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum EventKind {
    /// The job moved: frames done, detections, playable segments.
    Progress,
    /// The video's status changed (the first event always is one).
    Status,
}

/// One server-sent event of a video: its `data`, as JSON.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Event {
    pub kind: EventKind,
    pub status: Status,
    pub progress: f32,
    pub frames_done: u64,
    pub detections: u64,
    pub playable_segments: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Track {
    pub track_id: u64,
    pub class: String,
    /// First and last time seen, in seconds.
    pub first_seen: f64,
    pub last_seen: f64,
    /// Frames it appears in (detected or predicted), and of those the detected ones.
    pub frames: u64,
    pub detected_frames: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TrackList {
    pub items: Vec<Track>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<u64>,
}

/// Four decimals are a tenth of a pixel on a 1000-pixel frame, and keep 0.45 from reading
/// 0.44999998807907104 once an `f32` is widened for JSON.
pub fn round4(x: f32) -> f64 {
    (x as f64 * 1e4).round() / 1e4
}

/// A job's detection options.
#[derive(Debug, Clone, Object)]
pub struct JobOptionsView {
    /// Minimum confidence of a detection kept, 0..1.
    pub confidence: f64,
    /// IoU above which NMS merges two boxes of one class, 0..1.
    pub iou: f64,
    /// Class names kept; empty keeps every class.
    pub classes: Vec<String>,
    /// Detection on every N-th frame.
    pub every: u64,
}

impl From<&JobOptions> for JobOptionsView {
    fn from(o: &JobOptions) -> Self {
        JobOptionsView {
            confidence: round4(o.confidence),
            iou: round4(o.iou),
            classes: o.classes.clone(),
            every: o.every,
        }
    }
}

/// How a rendering is drawn.
#[derive(Debug, Clone, Object)]
pub struct RenderOptionsView {
    /// Class names drawn; empty draws every class detected.
    pub classes: Vec<String>,
    /// Opacity of outlines and label backgrounds, (0, 1].
    pub opacity: f64,
    /// Outline thickness in pixels, 1..32.
    pub thickness: u32,
    /// Whether boxes are labelled.
    pub labels: bool,
    /// Whether the video's zones and lines are drawn, with their running counts.
    pub rules: bool,
}

impl From<&RenderOptions> for RenderOptionsView {
    fn from(o: &RenderOptions) -> Self {
        RenderOptionsView {
            classes: o.classes.clone(),
            opacity: round4(o.opacity),
            thickness: o.thickness,
            labels: o.labels,
            rules: o.rules,
        }
    }
}
