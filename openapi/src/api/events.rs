//! The events of one video: progress while its job runs, its status when that changes; as a
//! server-sent event stream for a client that asks for one, else the latest event alone.

use std::time::Duration;

use futures_util::stream::{self, BoxStream, Stream};
use futures_util::StreamExt;
use poem::web::sse;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::ApiResponse;
use sightline_actors::store::{VideoId, VideoStatus};

use super::models::{Event, EventKind, Status};
use crate::job_key::JobKey;
use crate::state::SharedState;

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How often to look again when no job is running yet (queued) or progress is quiet.
const POLL: Duration = Duration::from_millis(500);

/// What `followEvents` answers: the stream (`Accept: text/event-stream`), or the video's latest
/// event alone, for clients that cannot read a stream and for polling.
pub enum EventsResponse {
    Stream(BoxStream<'static, Event>),
    Latest(Event),
}

impl ApiResponse for EventsResponse {
    fn meta() -> MetaResponses {
        // The stream is documented as a string, not as poem-openapi's array of events: an Open
        // API 3.0 body schema describes the whole body, and a client generated from an array
        // reads the stream as one JSON document and fails.
        let stream = MetaSchema {
            description: Some("`data: <Event as JSON>` lines, each event ended by a blank line."),
            ..MetaSchema::new("string")
        };
        MetaResponses {
            responses: vec![MetaResponse {
                description: "Server-sent events until the job has ended: each event's `data` is one `Event` \
                              as JSON, and a comment line every 15 s keeps a quiet connection open. Without \
                              `Accept: text/event-stream`: the latest event alone, as JSON.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "text/event-stream",
                        schema: MetaSchemaRef::Inline(Box::new(stream)),
                    },
                    MetaMediaType {
                        content_type: "application/json",
                        schema: Event::schema_ref(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        Event::register(registry);
    }
}

impl IntoResponse for EventsResponse {
    fn into_response(self) -> Response {
        match self {
            EventsResponse::Stream(events) => sse::SSE::new(events.map(|e| sse::Event::message(e.to_json_string())))
                .keep_alive(KEEP_ALIVE)
                .into_response(),
            EventsResponse::Latest(event) => poem::web::Json(event.to_json()).into_response(),
        }
    }
}

/// Whether a request asks for the stream. Browsers' `EventSource` always does; a client that
/// asks for JSON, or states no preference (`*/*`, as generated clients and curl do), gets the
/// latest event as a JSON document it can parse.
pub fn wants_stream(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/event-stream"))
}

/// The video as it stands, as an event of `kind`, and whether nothing will change any more (its
/// job has ended); `None` once the video is gone.
pub fn latest(state: &SharedState, id: VideoId, kind: EventKind) -> Option<(Event, bool)> {
    let record = state.repairs.video(state.store.get_video(id).ok()??);
    let live = state.jobs.progress(JobKey::process(id)).map(|rx| rx.borrow().clone());
    let frames = live.as_ref().map_or(record.progress.frames_done, |p| p.frames_encoded);
    let total = record.progress.frames_total.filter(|t| *t > 0);
    let settled = matches!(
        record.status,
        VideoStatus::Ready | VideoStatus::Failed | VideoStatus::Interrupted
    );
    let event = Event {
        kind,
        status: Status::from(record.status),
        progress: match (record.status, total) {
            (VideoStatus::Ready, _) => 1.0,
            (_, Some(t)) => (frames as f64 / t as f64).min(1.0) as f32,
            _ => record.progress.fraction,
        },
        frames_done: frames,
        detections: live.as_ref().map_or(record.detections, |p| p.detections),
        // No job running: what the playlists on disk list, as `/stream` says.
        playable_segments: live
            .as_ref()
            .map_or_else(|| state.segments_on_disk(id), |p| p.playable_segments as u64),
        error: record.error.clone(),
    };
    Some((event, settled && live.is_none()))
}

struct Follow {
    state: SharedState,
    id: VideoId,
    last: Option<(Status, u64, u64)>,
    done: bool,
}

/// Events until the video's job has ended (or the video is deleted).
pub fn follow(state: SharedState, id: VideoId) -> impl Stream<Item = Event> + Send + 'static {
    let start = Follow {
        state,
        id,
        last: None,
        done: false,
    };
    stream::unfold(start, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let (mut event, ended) = latest(&f.state, f.id, EventKind::Progress)?;
            let key = (event.status, event.frames_done, event.detections);
            // Checked on every poll: the job may have ended after its last event was sent.
            if f.last == Some(key) && ended {
                return None;
            }
            if f.last != Some(key) {
                if f.last.map(|l| l.0) != Some(event.status) {
                    event.kind = EventKind::Status;
                }
                f.last = Some(key);
                f.done = ended;
                return Some((event, f));
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
