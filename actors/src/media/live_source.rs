//! A live source's frames: a camera (RTSP) or a live HLS stream, decoded as it arrives and opened
//! again with back-off whenever it drops.
//!
//! `uridecodebin ! videoconvert ! video/x-raw,format=I420 ! appsink(sync, QoS, drop, 2 buffers)`:
//! appsink keeps only the newest frames and drops those that reach it late, telling the decoder to
//! skip late frames too, so a machine that falls behind (even at decoding) loses frames (counted)
//! instead of building a queue, and latency stays bounded (README, Performance: the live bench).
//! rtspsrc's jitter buffer is cut to 200 ms, and its media comes interleaved over the RTSP
//! connection (TCP).
//!
//! Frame timestamps are wall-clock: nanoseconds since the source's epoch (its creation), anchored
//! on the arrival of the first frame of each connection and following the stream's own timing
//! after it. A reconnection therefore leaves a gap in the timestamps as long as the outage, which
//! the encoder turns into a discontinuity, and every stored detection's time is also its date.
//!
//! A failure is said in our words (`live::failure`): the most telling of the errors on the bus,
//! and for one that may be a connection not made, what a plain TCP connection to the source's
//! host and port finds (refused, no answer, no such host), since neither souphttpsrc nor rtspsrc
//! says it in words of use.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::decoder::{DecodeError, RawFrame};
use super::element::element;
use super::encoder::LiveOutput;
use super::frame_source::FrameSource;
use super::threads::limit_decoder_threads;
use super::video_stream::take_video;
use crate::clock::now_ms;
use crate::frame::Frame;
use crate::hls::LivePosition;
use crate::live::failure::{describe, ErrorKind, Reach, StreamError};
use crate::live::{Backoff, LiveMonitor, LiveUrl};

/// How long a new connection may take to deliver its first frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a working stream may stay silent before it is treated as dropped.
const SILENCE: Duration = Duration::from_secs(5);
/// How often a blocked pull looks at the bus and the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// How late a frame may reach the appsink before it is dropped rather than processed.
const MAX_LATENESS_NS: u64 = 200_000_000;
/// rtspsrc's jitter buffer: enough for a local network, far below its 2 s default.
const RTSP_LATENCY_MS: u32 = 200;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);
/// How long the connection made to tell why a stream could not be opened may take, and to how
/// many of the host's addresses: a stop waits for it, so it stays short.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_PROBED: usize = 2;

/// How to reach a live source and what to report to.
#[derive(Clone)]
pub struct LiveInput {
    pub url: LiveUrl,
    /// User and password given apart from the URL.
    pub credentials: Option<(String, String)>,
    /// Unix milliseconds at stream time 0.
    pub epoch_ms: u64,
    /// Failed attempts in a row after which a source that has not delivered a frame since it was
    /// started (in this run or, by its monitor, an earlier one a failed stage ended) is given up
    /// (`failed`); one that has keeps trying, as cameras come back.
    pub max_attempts: u32,
    /// Segments each live playlist lists (the DVR window).
    pub window_segments: usize,
    /// Where an earlier run's playlists left off: this run's go on from there.
    pub continues: Option<LivePosition>,
    /// How long its detections and events are kept (`None`: for ever).
    pub retention: Option<Duration>,
    pub monitor: Arc<LiveMonitor>,
    /// Set to stop: the source then ends its stream as a file would.
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for LiveInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveInput")
            .field("url", &self.url)
            .field("epoch_ms", &self.epoch_ms)
            .finish_non_exhaustive()
    }
}

impl PartialEq for LiveInput {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url && self.epoch_ms == other.epoch_ms && Arc::ptr_eq(&self.stop, &other.stop)
    }
}

impl Eq for LiveInput {}

impl LiveInput {
    /// How the encoder writes this source's stream.
    pub fn output(&self) -> LiveOutput {
        LiveOutput {
            window: self.window_segments,
            epoch_ms: self.epoch_ms,
            continues: self.continues,
        }
    }
}

/// One attempt's pipeline.
struct Connection {
    url: LiveUrl,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    /// Set when the stream turned out to hold no video.
    no_video: Arc<AtomicBool>,
    opened: Instant,
    last_frame: Instant,
    frames: u64,
    /// Stream time minus the stream's own timestamp, fixed at the first frame.
    offset_ns: i128,
    last_raw: Option<u64>,
}

enum Pulled {
    Frame(RawFrame),
    Nothing,
    Ended(String),
}

impl Connection {
    fn open(input: &LiveInput) -> Result<Self, String> {
        gst::init().map_err(|e| e.to_string())?;
        let pipeline = gst::Pipeline::new();
        let source = gst::ElementFactory::make("uridecodebin")
            .property("uri", input.url.as_secret_str())
            .build()
            .map_err(|_| "GStreamer element 'uridecodebin' is missing (run `make setup`)".to_string())?;
        let convert = element("videoconvert").map_err(|e| e.to_string())?;
        let appsink = gst_app::AppSink::builder()
            .caps(
                &gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build(),
            )
            .max_buffers(2)
            .drop(true)
            // Synchronised to the clock, late frames are dropped here and the decoder is told
            // (QoS) to skip frames it would decode too late: a machine that cannot even decode the
            // stream in time loses frames instead of letting them queue in the connection.
            .sync(true)
            .qos(true)
            .max_lateness(MAX_LATENESS_NS as i64)
            .build();
        pipeline
            .add_many([&source, &convert, appsink.upcast_ref()])
            .map_err(|e| e.to_string())?;
        convert.link(&appsink).map_err(|e| e.to_string())?;

        let credentials = input.credentials.clone();
        source.connect("source-setup", false, move |values| {
            let src = values.get(1).and_then(|v| v.get::<gst::Element>().ok())?;
            if src.has_property("latency") && src.has_property("ntp-sync") {
                src.set_property("latency", RTSP_LATENCY_MS);
                // Interleaved in the RTSP connection: no UDP ports to open through firewalls, and
                // none left behind by a run that was killed (a camera still sending its old
                // session to a port we picked again would mix two streams into one).
                src.set_property_from_str("protocols", "tcp");
            }
            if let Some((user, password)) = &credentials {
                if src.has_property("user-id") && src.has_property("user-pw") {
                    src.set_property("user-id", user);
                    src.set_property("user-pw", password);
                }
            }
            None
        });
        let video_sink = convert
            .static_pad("sink")
            .ok_or_else(|| "videoconvert has no sink pad".to_string())?;
        limit_decoder_threads(&source);
        take_video(&source, &pipeline, video_sink.clone());
        let no_video = Arc::new(AtomicBool::new(false));
        let flag = no_video.clone();
        source.connect_no_more_pads(move |_| {
            if !video_sink.is_linked() {
                flag.store(true, Ordering::Relaxed);
            }
        });

        let now = Instant::now();
        let connection = Connection {
            url: input.url.clone(),
            pipeline,
            appsink,
            no_video,
            opened: now,
            last_frame: now,
            frames: 0,
            offset_ns: 0,
            last_raw: None,
        };
        if connection.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(connection
                .bus_error()
                .unwrap_or_else(|| "the stream would not start".into()));
        }
        Ok(connection)
    }

    fn pull(&mut self) -> Result<Pulled, DecodeError> {
        if let Some(sample) = self
            .appsink
            .try_pull_sample(gst::ClockTime::from_nseconds(POLL.as_nanos() as u64))
        {
            self.last_frame = Instant::now();
            return RawFrame::from_sample(&sample).map(Pulled::Frame);
        }
        if let Some(why) = self.bus_error() {
            return Ok(Pulled::Ended(why));
        }
        if self.appsink.is_eos() {
            return Ok(Pulled::Ended("the stream ended".into()));
        }
        if self.no_video.load(Ordering::Relaxed) {
            return Ok(Pulled::Ended("the stream has no video".into()));
        }
        if self.frames == 0 && self.opened.elapsed() > FIRST_FRAME_TIMEOUT {
            return Ok(Pulled::Ended(format!(
                "no video frame arrived within {} s",
                FIRST_FRAME_TIMEOUT.as_secs()
            )));
        }
        if self.frames > 0 && self.last_frame.elapsed() > SILENCE {
            return Ok(Pulled::Ended(format!("no frame for {} s", SILENCE.as_secs())));
        }
        Ok(Pulled::Nothing)
    }

    /// The errors on the bus, said the way an operator can act on them (see `live::failure`):
    /// the most telling of them, and for a connection that may not have been made, what one
    /// made here finds.
    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let mut errors = Vec::new();
        // One failure posts several errors (the source's, then each starved element's); a few
        // are enough to find the source's among them.
        while errors.len() < 8 {
            let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) else {
                break;
            };
            if let gst::MessageView::Error(e) = msg.view() {
                errors.push(stream_error(e, msg.src()));
            }
        }
        let error = StreamError::most_telling(errors)?;
        let reach = error.may_be_connection().then(|| reach(&self.url)).flatten();
        Some(describe(&self.url, &error, reach.as_ref()))
    }
}

/// A GStreamer error as `live::failure` sorts it.
fn stream_error(e: &gst::message::Error, src: Option<&gst::Object>) -> StreamError {
    let error = e.error();
    let detail = e
        .debug()
        .and_then(|d| d.lines().map(str::trim).rfind(|l| !l.is_empty()).map(String::from))
        .unwrap_or_default();
    let text = format!("{error} {detail}").to_ascii_lowercase();
    let kind =
        if error.matches(gst::ResourceError::NotAuthorized) || text.contains("401") || text.contains("unauthorized") {
            ErrorKind::NotAuthorized
        } else if error.matches(gst::ResourceError::NotFound) || text.contains("404") || text.contains("not found") {
            ErrorKind::NotFound
        } else if error.matches(gst::ResourceError::OpenReadWrite)
            || error.matches(gst::ResourceError::OpenRead)
            || text.contains("could not connect")
            || text.contains("failed to connect")
        {
            ErrorKind::CannotOpen
        } else if error.matches(gst::StreamError::Failed) && text.contains("streaming stopped") {
            ErrorKind::DataFlow
        } else {
            ErrorKind::Other
        };
    StreamError {
        kind,
        from_source: src.is_some_and(is_network_source),
        message: error.message().to_string(),
        detail,
    }
}

/// Whether `object` is the element that reads the stream from the network: uridecodebin's
/// source (rtspsrc, souphttpsrc) or the HLS demuxer, which fetches the segments itself.
fn is_network_source(object: &gst::Object) -> bool {
    let Some(element) = object.downcast_ref::<gst::Element>() else {
        return false;
    };
    let klass = element
        .factory()
        .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_string))
        .unwrap_or_default();
    klass.contains("Source") || klass.contains("Adaptive")
}

/// What a plain TCP connection to the source's host and port finds: GStreamer does not say why
/// an HLS source could not connect, nor rtspsrc in words of use.
fn reach(url: &LiveUrl) -> Option<Reach> {
    let (host, port) = url.host_port()?;
    let addresses: Vec<_> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.take(MAX_PROBED).collect(),
        Err(e) => {
            let text = e.to_string();
            return Some(if text.contains("not known") || text.contains("No address") {
                Reach::NoSuchHost
            } else {
                Reach::Failed(format!("the host name {host} could not be looked up ({text})"))
            });
        }
    };
    let mut found = Some(Reach::NoSuchHost);
    for address in addresses {
        found = Some(match TcpStream::connect_timeout(&address, PROBE_TIMEOUT) {
            Ok(_) => return Some(Reach::Answered),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Reach::Refused,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                Reach::TimedOut(PROBE_TIMEOUT)
            }
            Err(e) => Reach::Failed(e.to_string()),
        });
    }
    found
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Frames of a live source; see the module comment.
pub struct LiveSource {
    input: LiveInput,
    connection: Option<Connection>,
    backoff: Backoff,
    retry_at: Instant,
    /// Frames delivered since this run began.
    delivered: u64,
    next_index: u64,
    last_end: u64,
}

impl LiveSource {
    /// Opens nothing yet: the first pull connects, so a slow camera does not hold up the job's start.
    pub fn new(input: LiveInput) -> Self {
        LiveSource {
            input,
            connection: None,
            backoff: Backoff::new(FIRST_RETRY, LONGEST_RETRY),
            retry_at: Instant::now(),
            delivered: 0,
            next_index: 0,
            last_end: 0,
        }
    }

    /// Gives up the connection for `why`; fails the source when it never worked and has used its
    /// attempts.
    fn drop_connection(&mut self, why: String) -> Result<(), DecodeError> {
        let had_frames = self.connection.take().is_some_and(|c| c.frames > 0);
        if had_frames {
            tracing::warn!(url = %self.input.url, "live source dropped: {why}");
            self.input
                .monitor
                .lost(&why, self.input.epoch_ms + self.last_end / 1_000_000);
            self.backoff.reset();
            self.retry_at = Instant::now() + FIRST_RETRY;
            return Ok(());
        }
        self.attempt_failed(why)
    }

    fn attempt_failed(&mut self, why: String) -> Result<(), DecodeError> {
        let spread = f64::from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_micros())
                % 1000,
        ) / 1000.0;
        let wait = self.backoff.failed(spread);
        let failures = self.backoff.failures();
        self.input.monitor.attempt_failed(&why, failures);
        // Frames the monitor saw came from an earlier run of this source (one a failed stage
        // ended): it worked, so it is a camera that will come back, not one that never will.
        let never_worked = self.delivered == 0 && self.input.monitor.frames_in() == 0;
        if never_worked && failures >= self.input.max_attempts.max(1) {
            self.input.monitor.gave_up();
            return Err(DecodeError::Stream(format!("{why} (after {failures} attempts)")));
        }
        tracing::warn!(url = %self.input.url, attempt = failures, "live source attempt failed: {why}; next in {wait:?}");
        self.retry_at = Instant::now() + wait;
        Ok(())
    }

    /// Stamps a frame of the current connection with stream time and reports it.
    fn stamp(&mut self, raw: RawFrame) -> Frame {
        let since_epoch = i128::from(now_ms().saturating_sub(self.input.epoch_ms)) * 1_000_000;
        let duration_ns = raw.duration_ns;
        let (mut interval, mut dropped, mut pts) = (None, 0, since_epoch);
        if let Some(c) = self.connection.as_mut() {
            let raw_pts = raw
                .pts
                .or(c.last_raw.map(|r| r.saturating_add(duration_ns)))
                .unwrap_or(0);
            match c.last_raw.replace(raw_pts) {
                Some(previous) => {
                    let gap = raw_pts.saturating_sub(previous);
                    interval = Some(Duration::from_nanos(gap));
                    // Frames appsink dropped in between show as a gap in the stream's own times.
                    if gap * 2 > duration_ns * 3 {
                        dropped = (gap as f64 / duration_ns as f64).round() as u64 - 1;
                    }
                }
                None => c.offset_ns = since_epoch - i128::from(raw_pts),
            }
            c.frames += 1;
            pts = c.offset_ns + i128::from(raw_pts);
        }
        let pts_ns = (pts.max(0) as u64).max(self.last_end);
        self.last_end = pts_ns + duration_ns;
        self.delivered += 1;
        self.input
            .monitor
            .frame_in(interval, dropped, self.input.epoch_ms + pts_ns / 1_000_000);
        let index = self.next_index;
        self.next_index += 1;
        Frame {
            index,
            pts_ns,
            duration_ns,
            layout: raw.layout,
            data: raw.data,
        }
    }
}

impl FrameSource for LiveSource {
    /// The next frame, waiting through reconnections; `None` once stopped. `stall` does not apply:
    /// silence is a dropped stream, handled here.
    fn next_frame(&mut self, _stall: Duration) -> Result<Option<Frame>, DecodeError> {
        loop {
            if self.input.stop.load(Ordering::Relaxed) {
                self.connection = None;
                return Ok(None);
            }
            let Some(connection) = self.connection.as_mut() else {
                let now = Instant::now();
                if now < self.retry_at {
                    std::thread::sleep((self.retry_at - now).min(POLL));
                    continue;
                }
                self.input.monitor.connecting();
                match Connection::open(&self.input) {
                    Ok(c) => self.connection = Some(c),
                    Err(why) => self.attempt_failed(why)?,
                }
                continue;
            };
            match connection.pull()? {
                Pulled::Frame(raw) => return Ok(Some(self.stamp(raw))),
                Pulled::Nothing => {}
                Pulled::Ended(why) => self.drop_connection(why)?,
            }
        }
    }

    fn decoded_until(&self) -> u64 {
        self.last_end
    }
}
