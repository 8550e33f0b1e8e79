//! One live source's figures, shared by the stages that know them (the source: state, input rate,
//! frames lost, gaps; the detector pool: detections dropped; the writer: processed rate and
//! latency) and read by the API. The metrics carry no video id (so their series stay few,
//! however many sources come and go): each monitor adds its share to totals over the sources
//! (sources by state, frames per second, drops, reconnects) at the moment it changes its own
//! figures, so the API's figures summed over the running sources are the metrics'.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};
use serde::Serialize;

use crate::telemetry;

/// Where a live source stands. Serialized lowercase, as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveState {
    /// Opening the stream for the first time.
    Connecting,
    /// Frames are arriving.
    Live,
    /// The stream dropped, or a stage of its run failed (a full disk, say); trying again with
    /// back-off, `reason` saying why.
    Reconnecting,
    /// Stopped by a user (or by the server shutting down).
    Stopped,
    /// Given up for a cause that cannot pass (never worked after the configured attempts,
    /// deleted); `reason` says why.
    Failed,
}

impl LiveState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }
}

/// A stretch of wall-clock time in which the source sent nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Unix milliseconds of the last frame before it.
    pub from_ms: u64,
    /// Unix milliseconds of the first frame after it; `None` while it lasts.
    pub to_ms: Option<u64>,
}

/// Gaps a report keeps (the most recent).
const GAPS_KEPT: usize = 20;

/// What the API shows of a live source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveReport {
    pub state: LiveState,
    /// Why it failed, or why the last attempt did.
    pub reason: Option<String>,
    /// Failed attempts in a row.
    pub failed_attempts: u32,
    /// Times the stream was reopened after it had delivered frames.
    pub reconnects: u64,
    /// Frames per second the source sends (from its timestamps).
    pub input_fps: f64,
    /// Frames per second encoded into the stream.
    pub processed_fps: f64,
    /// From the capture of the last listed segment's first frame to its listing.
    pub latency_ms: Option<u64>,
    /// Frames received from the source.
    pub frames_in: u64,
    /// Frames the source sent that were dropped before processing (the pipeline was behind).
    pub dropped_frames: u64,
    /// Frames due for detection that were only tracked, because detection was behind.
    pub dropped_detections: u64,
    /// The most recent pauses in the source, oldest first.
    pub gaps: Vec<Gap>,
}

impl LiveReport {
    /// A source in `state` with nothing measured yet (or no longer: one not run since the server
    /// started), `reason` saying why it failed if it did.
    pub fn idle(state: LiveState, reason: Option<String>) -> Self {
        LiveReport {
            state,
            reason,
            failed_attempts: 0,
            reconnects: 0,
            input_fps: 0.0,
            processed_fps: 0.0,
            latency_ms: None,
            frames_in: 0,
            dropped_frames: 0,
            dropped_detections: 0,
            gaps: Vec::new(),
        }
    }
}

/// A rate from intervals, smoothed over about ten of them.
#[derive(Debug, Default)]
struct Rate {
    interval_s: f64,
}

impl Rate {
    fn observe(&mut self, interval_s: f64) -> f64 {
        if interval_s > 0.0 && interval_s.is_finite() {
            self.interval_s = match self.interval_s {
                0.0 => interval_s,
                old => old * 0.9 + interval_s * 0.1,
            };
        }
        self.fps()
    }

    /// In steps of 1/64 fps: such numbers add and subtract exactly, so the summed gauges go
    /// back to exactly 0 when every source has taken its share back.
    fn fps(&self) -> f64 {
        if self.interval_s > 0.0 {
            (64.0 / self.interval_s).round() / 64.0
        } else {
            0.0
        }
    }
}

struct Inner {
    report: LiveReport,
    gaps: VecDeque<Gap>,
    input: Rate,
    processed: Rate,
    last_encoded: Option<Instant>,
    /// Capture time (Unix ms) of the last frame received: where a gap starts.
    last_frame_ms: Option<u64>,
    /// The source gave up connecting (see [`LiveMonitor::gave_up`]).
    gave_up: bool,
}

struct Series {
    input_fps: Gauge,
    processed_fps: Gauge,
    latency: Histogram,
    dropped_frames: Counter,
    dropped_detections: Counter,
    reconnects: Counter,
}

pub struct LiveMonitor {
    inner: Mutex<Inner>,
    series: Series,
}

impl Default for LiveMonitor {
    fn default() -> Self {
        Self::new()
    }
}

/// The running states, the values of `sightline_live_sources{state}`.
pub const RUNNING_STATES: [LiveState; 3] = [LiveState::Connecting, LiveState::Live, LiveState::Reconnecting];

fn sources_gauge(state: LiveState) -> Option<Gauge> {
    RUNNING_STATES
        .contains(&state)
        .then(|| metrics::gauge!(telemetry::LIVE_SOURCES, "state" => state.as_str()))
}

impl LiveMonitor {
    /// A monitor for a source that is starting (`connecting`).
    pub fn new() -> Self {
        let series = Series {
            input_fps: metrics::gauge!(telemetry::LIVE_FPS, "stage" => "input"),
            processed_fps: metrics::gauge!(telemetry::LIVE_FPS, "stage" => "processed"),
            latency: metrics::histogram!(telemetry::LIVE_LATENCY_SECONDS),
            dropped_frames: metrics::counter!(telemetry::LIVE_DROPPED_TOTAL, "what" => "frames"),
            dropped_detections: metrics::counter!(telemetry::LIVE_DROPPED_TOTAL, "what" => "detections"),
            reconnects: metrics::counter!(telemetry::LIVE_RECONNECTS_TOTAL),
        };
        if let Some(g) = sources_gauge(LiveState::Connecting) {
            g.increment(1.0);
        }
        LiveMonitor {
            inner: Mutex::new(Inner {
                report: LiveReport::idle(LiveState::Connecting, None),
                gaps: VecDeque::new(),
                input: Rate::default(),
                processed: Rate::default(),
                last_encoded: None,
                last_frame_ms: None,
                gave_up: false,
            }),
            series,
        }
    }

    /// The figures as they are now.
    pub fn report(&self) -> LiveReport {
        self.with(|i| {
            let mut r = i.report.clone();
            r.gaps = i.gaps.iter().copied().collect();
            r
        })
    }

    pub fn state(&self) -> LiveState {
        self.with(|i| i.report.state)
    }

    /// Frames received since the monitor was made (over all of the source's runs since).
    pub fn frames_in(&self) -> u64 {
        self.with(|i| i.report.frames_in)
    }

    /// The source gave up connecting: it never delivered a frame in the attempts it was given.
    /// The run then fails for a cause that does not pass by itself.
    pub fn gave_up(&self) {
        self.with(|i| i.gave_up = true);
    }

    pub fn has_given_up(&self) -> bool {
        self.with(|i| i.gave_up)
    }

    /// Moves the source to `state`, keeping `sightline_live_sources` in step.
    fn set_state(i: &mut Inner, state: LiveState) {
        if i.report.state == state {
            return;
        }
        if let Some(g) = sources_gauge(i.report.state) {
            g.decrement(1.0);
        }
        if let Some(g) = sources_gauge(state) {
            g.increment(1.0);
        }
        i.report.state = state;
    }

    /// Sets this source's share of a summed gauge to `new` (from `old`).
    fn share(gauge: &Gauge, old: f64, new: f64) {
        gauge.increment(new - old);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic elsewhere while holding the lock leaves figures that are still worth showing.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// An attempt to open the stream begins.
    pub fn connecting(&self) {
        self.with(|i| {
            if i.report.state != LiveState::Live && i.report.state != LiveState::Reconnecting {
                Self::set_state(i, LiveState::Connecting);
            }
        });
    }

    /// An attempt failed (`why`), the `failures`-th in a row.
    pub fn attempt_failed(&self, why: &str, failures: u32) {
        self.with(|i| {
            i.report.reason = Some(why.to_string());
            i.report.failed_attempts = failures;
        });
    }

    /// A stream that was delivering frames stopped (`why`) at `last_frame_ms`.
    pub fn lost(&self, why: &str, last_frame_ms: u64) {
        self.with(|i| {
            Self::set_state(i, LiveState::Reconnecting);
            i.report.reason = Some(why.to_string());
            Self::share(&self.series.input_fps, i.report.input_fps, 0.0);
            i.report.input_fps = 0.0;
            i.input = Rate::default();
            Self::open_gap(i, last_frame_ms);
        });
    }

    /// The source's run failed for `why`, a cause that may pass; the `attempt`-th run in a row
    /// to fail is followed by another after a wait. Nothing flows meanwhile: its rates go to 0
    /// and a gap opens from its last frame (closed by the first frame of the run that works).
    pub fn retrying(&self, why: &str, attempt: u32) {
        self.with(|i| {
            Self::set_state(i, LiveState::Reconnecting);
            i.report.reason = Some(why.to_string());
            i.report.failed_attempts = attempt;
            Self::share(&self.series.input_fps, i.report.input_fps, 0.0);
            Self::share(&self.series.processed_fps, i.report.processed_fps, 0.0);
            i.report.input_fps = 0.0;
            i.report.processed_fps = 0.0;
            i.input = Rate::default();
            i.processed = Rate::default();
            i.last_encoded = None;
            if let Some(last) = i.last_frame_ms {
                if i.gaps.back().is_none_or(|g| g.to_ms.is_some()) {
                    Self::open_gap(i, last);
                }
            }
        });
    }

    fn open_gap(i: &mut Inner, from_ms: u64) {
        if i.gaps.len() == GAPS_KEPT {
            i.gaps.pop_front();
        }
        i.gaps.push_back(Gap { from_ms, to_ms: None });
    }

    /// A frame arrived `interval` after the one before it (source time; `None` for the first of
    /// a connection), `dropped` frames after the last one received.
    pub fn frame_in(&self, interval: Option<Duration>, dropped: u64, captured_ms: u64) {
        if dropped > 0 {
            self.series.dropped_frames.increment(dropped);
        }
        self.with(|i| {
            i.report.frames_in += 1;
            i.report.dropped_frames += dropped;
            i.last_frame_ms = Some(captured_ms);
            if let Some(dt) = interval {
                let fps = i.input.observe(dt.as_secs_f64());
                Self::share(&self.series.input_fps, i.report.input_fps, fps);
                i.report.input_fps = fps;
            }
            let was = i.report.state;
            if was == LiveState::Reconnecting {
                self.series.reconnects.increment(1);
                i.report.reconnects += 1;
            }
            if was != LiveState::Live {
                Self::set_state(i, LiveState::Live);
                i.report.failed_attempts = 0;
                // What went wrong before is in the gaps now.
                i.report.reason = None;
                if let Some(gap) = i.gaps.back_mut().filter(|g| g.to_ms.is_none()) {
                    gap.to_ms = Some(captured_ms);
                }
            }
        });
    }

    /// A frame due for detection was only tracked.
    pub fn detection_dropped(&self) {
        self.series.dropped_detections.increment(1);
        self.with(|i| i.report.dropped_detections += 1);
    }

    /// A frame was encoded.
    pub fn encoded(&self) {
        let now = Instant::now();
        self.with(|i| {
            if let Some(last) = i.last_encoded.replace(now) {
                let fps = i.processed.observe((now - last).as_secs_f64());
                Self::share(&self.series.processed_fps, i.report.processed_fps, fps);
                i.report.processed_fps = fps;
            }
        });
    }

    /// A segment was listed `latency` after its first frame's capture.
    pub fn listed(&self, latency: Duration) {
        self.series.latency.record(latency.as_secs_f64());
        self.with(|i| i.report.latency_ms = Some(latency.as_millis() as u64));
    }

    /// The source ended: stopped on purpose, or failed for `reason`.
    pub fn ended(&self, state: LiveState, reason: Option<String>) {
        self.with(|i| {
            Self::set_state(i, state);
            if reason.is_some() {
                i.report.reason = reason;
            }
            Self::share(&self.series.input_fps, i.report.input_fps, 0.0);
            Self::share(&self.series.processed_fps, i.report.processed_fps, 0.0);
            i.report.input_fps = 0.0;
            i.report.processed_fps = 0.0;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_and_a_return_make_a_closed_gap_and_count_a_reconnect() {
        let m = LiveMonitor::new();
        assert_eq!(m.state(), LiveState::Connecting);
        m.frame_in(None, 0, 1000);
        for _ in 0..50 {
            m.frame_in(Some(Duration::from_millis(40)), 0, 1040);
        }
        let r = m.report();
        assert_eq!(r.state, LiveState::Live);
        assert!((r.input_fps - 25.0).abs() < 0.01, "{}", r.input_fps);
        m.lost("the stream ended", 3000);
        assert_eq!(m.state(), LiveState::Reconnecting);
        assert_eq!(
            m.report().gaps,
            [Gap {
                from_ms: 3000,
                to_ms: None
            }]
        );
        m.frame_in(None, 2, 13_000);
        let r = m.report();
        assert_eq!(r.state, LiveState::Live);
        assert_eq!(r.reconnects, 1);
        assert_eq!(r.dropped_frames, 2);
        assert_eq!(
            r.gaps,
            [Gap {
                from_ms: 3000,
                to_ms: Some(13_000)
            }]
        );
        assert_eq!(r.reason, None);
        m.ended(LiveState::Failed, Some("gone".into()));
        assert_eq!(m.report().state, LiveState::Failed);
        assert_eq!(m.report().reason.as_deref(), Some("gone"));
    }

    #[test]
    fn a_failed_run_retried_shows_reconnecting_with_its_reason_and_its_return_live() {
        let m = LiveMonitor::new();
        m.frame_in(None, 0, 1000);
        m.frame_in(Some(Duration::from_millis(100)), 0, 1100);
        m.encoded();
        m.encoded();
        m.retrying("the disk is full", 1);
        m.retrying("the disk is still full", 2);
        let r = m.report();
        assert_eq!(r.state, LiveState::Reconnecting);
        assert_eq!(
            (r.reason.as_deref(), r.failed_attempts),
            (Some("the disk is still full"), 2)
        );
        assert_eq!((r.input_fps, r.processed_fps), (0.0, 0.0));
        assert_eq!(
            r.gaps,
            [Gap {
                from_ms: 1100,
                to_ms: None
            }],
            "one gap for the whole outage"
        );
        assert!(!m.has_given_up());
        // The next run's first frame: live again, one reconnect, the gap closed.
        m.frame_in(None, 0, 9000);
        let r = m.report();
        assert_eq!(
            (r.state, r.reconnects, r.failed_attempts, r.reason),
            (LiveState::Live, 1, 0, None)
        );
        assert_eq!(
            r.gaps,
            [Gap {
                from_ms: 1100,
                to_ms: Some(9000)
            }]
        );
        assert_eq!(m.frames_in(), 3);
        m.gave_up();
        assert!(m.has_given_up());
    }
}
