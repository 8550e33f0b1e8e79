//! Zones and lines on a video, and what they saw: its rules (set at upload or later, evaluated
//! over the stored tracks without the detector), their events, and counts.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use sightline_actors::analytics::{self, Anchor, EventKind};
use sightline_actors::detect::names::class_name;
use sightline_actors::job::{set_rules, EventSink};
use sightline_actors::store::{EventQuery, RulesRecord, StoreError, VideoRecord, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};

use super::auth::TokenIfSet;
use super::error::ApiError;
use super::failure::{Failure, Lookup, SetRules};
use super::rules_body::{AnchorPoint, LineRule, Point, RulesBody, ZoneRule};
use super::video_id::VideoIdParam;
use super::videos::{class_ids, ms, stored_video};
use crate::state::SharedState;

#[derive(Tags)]
enum ApiTags {
    /// Zones, lines and the events they see.
    Analytics,
}

pub struct AnalyticsApi {
    pub state: SharedState,
}

/// A video's rules and where their evaluation stands.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RulesView {
    pub zones: Vec<ZoneRule>,
    pub lines: Vec<LineRule>,
    pub hysteresis_frames: u32,
    /// Unix ms when the events were all worked out; absent while the video's job works them out
    /// (they are readable as they come) or has yet to.
    pub analysed_at: Option<u64>,
    /// Events these rules gave, so far while the job runs.
    pub events: u64,
    /// Milliseconds spent evaluating them, over the stored tracks or in the job.
    pub took_ms: u64,
}

impl From<RulesRecord> for RulesView {
    fn from(r: RulesRecord) -> Self {
        let anchor = |a: Anchor| Some(AnchorPoint::from(a));
        RulesView {
            zones: r
                .rules
                .zones
                .into_iter()
                .map(|z| ZoneRule {
                    name: z.name,
                    polygon: z.polygon.into_iter().map(Point::from).collect(),
                    classes: z.classes,
                    min_dwell_s: z.min_dwell_s,
                    anchor: anchor(z.anchor),
                })
                .collect(),
            lines: r
                .rules
                .lines
                .into_iter()
                .map(|l| LineRule {
                    name: l.name,
                    from: l.from.into(),
                    to: l.to.into(),
                    positive: Some(l.positive),
                    negative: Some(l.negative),
                    classes: l.classes,
                    anchor: anchor(l.anchor),
                })
                .collect(),
            hysteresis_frames: r.rules.hysteresis_frames,
            analysed_at: r.analysed_at,
            events: r.events,
            took_ms: r.took_ms,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AnalyticsEventKind {
    /// A track crossed a line (`direction` says which way).
    LineCrossed,
    /// A track entered a zone.
    ZoneEntered,
    /// A track left a zone (`dwell` says after how long).
    ZoneLeft,
    /// A track has been in a zone for the zone's `min_dwell_s`.
    DwellExceeded,
}

impl From<EventKind> for AnalyticsEventKind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::LineCrossed => AnalyticsEventKind::LineCrossed,
            EventKind::ZoneEntered => AnalyticsEventKind::ZoneEntered,
            EventKind::ZoneLeft => AnalyticsEventKind::ZoneLeft,
            EventKind::DwellExceeded => AnalyticsEventKind::DwellExceeded,
        }
    }
}

impl From<AnalyticsEventKind> for EventKind {
    fn from(k: AnalyticsEventKind) -> Self {
        match k {
            AnalyticsEventKind::LineCrossed => EventKind::LineCrossed,
            AnalyticsEventKind::ZoneEntered => EventKind::ZoneEntered,
            AnalyticsEventKind::ZoneLeft => EventKind::ZoneLeft,
            AnalyticsEventKind::DwellExceeded => EventKind::DwellExceeded,
        }
    }
}

/// Something a rule saw.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AnalyticsEvent {
    pub kind: AnalyticsEventKind,
    /// The rule's name.
    pub rule: String,
    pub track_id: u64,
    pub class: String,
    pub class_id: u16,
    /// Seconds into the video, and the frame: the first frame on the new side, in or out.
    pub time: f64,
    pub frame: u64,
    /// The track's anchor then.
    pub position: Point,
    /// A crossing's direction, by the line's names for them.
    pub direction: Option<String>,
    /// Seconds inside the zone (`zone_left`, `dwell_exceeded`).
    pub dwell: Option<f64>,
}

pub(crate) fn event_view(e: &analytics::Event, names: &[String]) -> AnalyticsEvent {
    AnalyticsEvent {
        kind: e.kind.into(),
        rule: e.rule.clone(),
        track_id: e.track_id,
        class: class_name(names, e.class_id as usize),
        class_id: e.class_id,
        time: e.time_ms as f64 / 1000.0,
        frame: e.frame,
        position: e.position.into(),
        direction: e.direction.clone(),
        dwell: e.dwell_ms.map(|ms| ms as f64 / 1000.0),
    }
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AnalyticsEventPage {
    pub items: Vec<AnalyticsEvent>,
    /// Pass as `cursor` for the next page; absent when there is none.
    pub next_cursor: Option<String>,
}

/// Crossings of one direction by one class.
#[derive(Debug, Clone, Object)]
pub struct Crossings {
    pub direction: String,
    pub class: String,
    pub count: u64,
}

#[derive(Debug, Clone, Object)]
pub struct CrossingBin {
    /// Start of the bin, in seconds.
    pub start: u64,
    pub counts: Vec<Crossings>,
}

#[derive(Debug, Clone, Object)]
pub struct LineCounts {
    pub rule: String,
    pub totals: Vec<Crossings>,
    /// Bins without a crossing are left out.
    pub bins: Vec<CrossingBin>,
}

#[derive(Debug, Clone, Object)]
pub struct OccupancyBin {
    /// Start of the bin, in seconds.
    pub start: u64,
    /// Most tracks inside at once during the bin.
    pub max: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ZoneCounts {
    pub rule: String,
    pub entries: u64,
    pub exits: u64,
    pub dwell_exceeded: u64,
    /// Seconds inside, over visits that ended.
    pub mean_dwell: Option<f64>,
    pub max_dwell: Option<f64>,
    /// Bins with nobody inside are left out.
    pub occupancy: Vec<OccupancyBin>,
}

#[derive(Debug, Clone, Object)]
pub struct AnalyticsCounts {
    pub bin_seconds: u64,
    pub lines: Vec<LineCounts>,
    pub zones: Vec<ZoneCounts>,
}

#[derive(ApiResponse)]
enum EventsCsv {
    /// `time,frame,kind,rule,track_id,class,direction,dwell,x,y`, one event per line.
    #[oai(status = 200, content_type = "text/csv")]
    Ok(PlainText<String>, #[oai(header = "Content-Disposition")] String),
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Analytics")]
impl AnalyticsApi {
    /// Get a video's rules.
    ///
    /// Its zones and lines, and when their events were worked out (absent while they wait for
    /// the video's job). A video without rules has empty lists.
    #[oai(path = "/videos/:id/rules", method = "get", operation_id = "getRules")]
    async fn get_rules(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<RulesView>, Failure<Lookup>> {
        let video = self.video(id.0 .0)?;
        let record = self.state.store.get_rules(video.id)?.unwrap_or_default();
        Ok(Json(record.into()))
    }

    /// Set a video's rules.
    ///
    /// Replaces its zones and lines and their results at once. On a `ready` video they are
    /// evaluated over its stored tracks before the answer (no decoding, no detector: seconds for
    /// a long video); on one still queued or processing, when its job ends. Bad rules are 400
    /// with the problem named.
    #[oai(path = "/videos/:id/rules", method = "put", operation_id = "setRules")]
    async fn set_rules(
        &self,
        _token: TokenIfSet,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        body: Json<RulesBody>,
    ) -> Result<Json<RulesView>, Failure<SetRules>> {
        let video = self.video(id.0 .0)?;
        let rules = body.0.into_rules(&video.class_names)?;
        let (store, notifier) = (self.state.store.clone(), self.state.notifier.clone());
        let record = tokio::task::spawn_blocking(move || {
            let record = set_rules(&store, video.id, rules)?;
            // The counts changed; the events, being past moments, are not sent again.
            if record.analysed_at.is_some() {
                notifier.analysed(&video, &record);
            }
            Ok::<_, StoreError>(record)
        })
        .await
        .map_err(ApiError::internal)??;
        Ok(Json(record.into()))
    }

    /// List the events a video's rules saw.
    ///
    /// In time order, filtered by kind, rule, class and time window, paged by cursor: pass a
    /// page's `next_cursor` as `cursor` for the next one. A cursor from before the rules changed
    /// is refused (400).
    #[oai(
        path = "/videos/:id/analytics/events",
        method = "get",
        operation_id = "listAnalyticsEvents"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// Kinds to keep; repeat for several. None: every kind.
        kind: Query<Option<Vec<AnalyticsEventKind>>>,
        /// A rule's name: only its events.
        rule: Query<Option<String>>,
        /// Class names to keep; repeat for several. None: every class.
        class: Query<Option<Vec<String>>>,
        /// Window start in seconds (inclusive).
        #[oai(validator(minimum(value = "0")))]
        start: Query<Option<f64>>,
        /// Window end in seconds (exclusive).
        #[oai(validator(minimum(value = "0")))]
        end: Query<Option<f64>>,
        /// Page size, 1..5000 (default 1000).
        #[oai(validator(minimum(value = "1"), maximum(value = "5000")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<AnalyticsEventPage>, Failure<Lookup>> {
        let video = self.video(id.0 .0)?;
        let class_ids = class_ids(&video.class_names, &class.0.unwrap_or_default())?;
        let query = EventQuery {
            kinds: kind.0.unwrap_or_default().into_iter().map(Into::into).collect(),
            rule: rule.0,
            class_ids,
            start_ms: start.0.map_or(0, ms),
            end_ms: end.0.map(ms),
            limit: limit.0.map_or(DEFAULT_PAGE_LIMIT, |l| l as usize).min(MAX_PAGE_LIMIT),
            cursor: cursor.0,
        };
        let store = self.state.store.clone();
        let page = tokio::task::spawn_blocking(move || store.events_page(video.id, &query))
            .await
            .map_err(ApiError::internal)??;
        Ok(Json(AnalyticsEventPage {
            items: page.items.iter().map(|e| event_view(e, &video.class_names)).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Count what a video's rules saw.
    ///
    /// Per line: crossings by direction and class, in total and per `bin` seconds. Per zone:
    /// entries, exits, dwell (mean and longest, of visits that ended) and occupancy over time.
    #[oai(
        path = "/videos/:id/analytics/counts",
        method = "get",
        operation_id = "getAnalyticsCounts"
    )]
    async fn counts(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// Bin in seconds, 1..3600 (default 10).
        #[oai(validator(minimum(value = "1"), maximum(value = "3600")))]
        bin: Query<Option<u64>>,
    ) -> Result<Json<AnalyticsCounts>, Failure<Lookup>> {
        let video = self.video(id.0 .0)?;
        let bin_seconds = bin.0.unwrap_or(10);
        let store = self.state.store.clone();
        let (rules, events) = tokio::task::spawn_blocking(move || {
            let rules = store.get_rules(video.id)?.map(|r| r.rules).unwrap_or_default();
            store.all_events(video.id).map(|events| (rules, events))
        })
        .await
        .map_err(ApiError::internal)??;
        let counts = analytics::count(&rules, &events, bin_seconds * 1000, video.duration_ms);
        let names = &video.class_names;
        let crossings = |m: &analytics::Crossings| -> Vec<Crossings> {
            m.iter()
                .map(|((direction, class_id), count)| Crossings {
                    direction: direction.clone(),
                    class: class_name(names, *class_id as usize),
                    count: *count,
                })
                .collect()
        };
        let seconds = |ms: Option<u64>| ms.map(|ms| ms as f64 / 1000.0);
        Ok(Json(AnalyticsCounts {
            bin_seconds,
            lines: counts
                .lines
                .iter()
                .map(|l| LineCounts {
                    rule: l.rule.clone(),
                    totals: crossings(&l.totals),
                    bins: l
                        .bins
                        .iter()
                        .map(|(start, c)| CrossingBin {
                            start: start / 1000,
                            counts: crossings(c),
                        })
                        .collect(),
                })
                .collect(),
            zones: counts
                .zones
                .iter()
                .map(|z| ZoneCounts {
                    rule: z.rule.clone(),
                    entries: z.entries,
                    exits: z.exits,
                    dwell_exceeded: z.dwell_exceeded,
                    mean_dwell: seconds(z.mean_dwell_ms),
                    max_dwell: seconds(z.max_dwell_ms),
                    occupancy: z
                        .occupancy
                        .iter()
                        .map(|(start, max)| OccupancyBin {
                            start: start / 1000,
                            max: *max,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }

    /// Export the events a video's rules saw, as CSV.
    ///
    /// Every event in time order: `time,frame,kind,rule,track_id,class,direction,dwell,x,y`.
    #[oai(
        path = "/videos/:id/analytics/events.csv",
        method = "get",
        operation_id = "exportAnalyticsEventsCsv"
    )]
    async fn events_csv(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<EventsCsv, Failure<Lookup>> {
        let video = self.video(id.0 .0)?;
        let store = self.state.store.clone();
        let events = tokio::task::spawn_blocking(move || store.all_events(video.id))
            .await
            .map_err(ApiError::internal)??;
        let mut csv = String::from("time,frame,kind,rule,track_id,class,direction,dwell,x,y\n");
        for e in &events {
            let v = event_view(e, &video.class_names);
            csv.push_str(&format!(
                "{:.3},{},{},{},{},{},{},{},{},{}\n",
                v.time,
                v.frame,
                e.kind.as_str(),
                csv_field(&v.rule),
                v.track_id,
                csv_field(&v.class),
                v.direction.as_deref().map(csv_field).unwrap_or_default(),
                v.dwell.map(|d| format!("{d:.3}")).unwrap_or_default(),
                v.position.x,
                v.position.y,
            ));
        }
        Ok(EventsCsv::Ok(
            PlainText(csv),
            format!("attachment; filename=\"{}-events.csv\"", video.id),
        ))
    }
}

impl AnalyticsApi {
    fn video(&self, id: sightline_actors::store::VideoId) -> Result<VideoRecord, ApiError> {
        stored_video(&self.state, id)
    }
}

/// A user-chosen name as one CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
