//! The encoding pipeline: one appsrc, one tee, one branch per rendition.
//!
//! ```text
//! appsrc (I420) ! tee ─┬─ queue ! x264enc ! h264parse ! splitmuxsink(mpegtsmux)      source size
//!                      └─ queue ! videoscale ! caps ! x264enc ! h264parse ! splitmuxsink   each smaller size
//! ```
//!
//! Segment boundaries are chosen here from timestamps (`SegmentClock`): the first frame of each
//! segment is preceded by a downstream force-key-unit event, which the tee hands to every
//! encoder, so all renditions get a keyframe on the same frame. x264's own keyframe placement
//! (interval, scene cuts) is switched off so those are the only keyframes, and splitmuxsink,
//! whose threshold is below one frame, cuts at each of them. Playlists are written by us from
//! splitmuxsink's fragment messages, as EVENT playlists that grow while the job runs, or for a
//! live source as sliding playlists whose old segments are deleted (see [`LiveOutput`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::element::{element, MissingElement};
use super::threads::half_the_cores;
use crate::clock::now_ms;
use crate::frame::{Frame, I420Layout};
use crate::hls::{
    avc1_from_annexb, render_master, write_atomic, LivePosition, MediaPlaylist, Rendition, Segment, SegmentClock,
    Variant,
};
use crate::job::options::Preset;

/// Where the encoder's timeline starts. x264enc asks GstVideoEncoder for a minimum PTS of 1000 h
/// (so B-frames never get a negative DTS), and GstVideoEncoder shifts earlier input by the
/// difference but only moves its output segment once the first encoded frame leaves. Until then a
/// frame's running time reads 1000 h + t, and the keyframe we force on it is recorded as such;
/// every later request (t' < 1000 h) then looks older and is dropped. At 8 fps or less x264's
/// lookahead holds the first output past the first 2 s boundary, so one segment held the rest
/// of the video. Timestamps that start at the minimum need no shift, and times stay consistent.
/// The files are unchanged: their PTS already started at 1000 h (modulo the MPEG-TS wrap).
pub(crate) const TIME_BASE: u64 = 1000 * 3600 * 1_000_000_000;

/// splitmuxsink's size threshold: far below any frame period we accept (1000 fps is 1 ms).
const SPLIT_THRESHOLD_NS: u64 = 100_000;

/// Frames appsrc may hold before push() waits.
const APPSRC_QUEUE: usize = 2;

/// Frames each rendition's queue may hold. The tee hands every queue the same buffer, so a deeper
/// queue costs at most that many source frames in all, and it lets a single-threaded encoder
/// (see `x264_threads`) fall behind for a moment without stalling the others and the detectors.
const RENDITION_QUEUE: u32 = 8;

/// Most frame threads per x264 encoder. Each one holds a frame, and x264's lookahead grows with
/// them; left to itself x264 takes 1.5 × the cores, so a job's memory would grow with the machine.
/// Measured on one 4K rendition, 2 cores: 2 threads used 7% less memory than 3 and ran faster.
const X264_MAX_THREADS: usize = 4;

/// x264's VBV buffer, in milliseconds of the rendition's bitrate. Measured on 300 frames of the
/// 960×720 sample at 2212 kb/s, veryfast, a keyframe every 2 s, SSIM against the source: 600 ms
/// (x264enc's default) 0.9907 at 2087 kb/s, 1000 ms 0.9917 at 2155, 2000 ms 0.9926 at 2246,
/// 4000 ms 0.9929 at 2279; ffmpeg's libx264 (average bitrate, no VBV) 0.9921 at 2248. At the
/// ladder's 1659 kb/s over 600 frames (`scripts/bench-quality.sh`) 2000 ms is level with it.
/// Longer buffers score higher but let a segment's peak, which BANDWIDTH declares, grow further.
const VBV_BUFFER_MS: u32 = 2000;

/// x264 options of the top rendition (the source size, where most of the bits go): trellis
/// quantisation, which the veryfast preset leaves off, on the final encode of each block.
/// Measured with `scripts/bench-quality.sh` (600 frames of the 1280×720 sample, SSIM against the
/// source): 0.99449 at 2382 kb/s without it, 0.99468 at 2382 with it, against libx264's 0.99460
/// at 2386 through ffmpeg at the same preset. It costs 19% more CPU where it is used, 9% for the
/// three renditions together (300 frames, five interleaved runs each). Lower renditions keep the
/// preset's setting so that the encode stage costs at most 15% more than without trellis.
///
/// No B-frame pyramid, in every rendition: a B-frame used as a reference keeps one more picture
/// with its sub-pixel planes in each encoder (a 1280×720 x264enc alone: 164 → 153 MiB peak) for
/// little picture (SSIM 0.99484 → 0.99480 through libx264 on the same frames).
const TOP_OPTIONS: &str = "scenecut=0:trellis=1:b-pyramid=0";

/// x264 options of the lower renditions: as the top's but without trellis (see above), and with
/// half the preset's lookahead, which holds that many pictures per encoder. Together with the
/// pyramid, that took the 1280×720 sample's peak memory from 373 to 337 MiB (`sightline bench
/// pipeline`, one run each) for SSIM 0.99404 → 0.99357 at 480p (libx264, 600 frames).
const LOWER_OPTIONS: &str = "scenecut=0:b-pyramid=0:rc-lookahead=5";

/// Frame threads per x264 encoder: half the cores, at least one. Every rendition has an encoder
/// of its own and detection takes about half the machine, so the renditions already run side by
/// side without frame threads on small machines. Measured with the three renditions of a 1280×720
/// clip on 2 cores: 1 thread each instead of 2 took the same CPU (10.9 against 10.8 s for 300
/// frames), scored higher (SSIM 0.99458 against 0.99456 at the same size) and held 61 MB less in
/// an encoding-only run; the full pipeline's peak went from 449 to 399 MiB.
fn x264_threads() -> u32 {
    half_the_cores(X264_MAX_THREADS)
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("could not build the encoding pipeline: {0}")]
    Pipeline(String),
    #[error("could not write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("encoding failed: {0}")]
    Stream(String),
    #[error("frame {index} is {got:?}, the stream is {want:?}")]
    FrameSize {
        index: u64,
        got: (u32, u32),
        want: (u32, u32),
    },
    #[error("the encoder did not finish within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone)]
pub struct EncoderConfig {
    pub out_dir: PathBuf,
    pub renditions: Vec<Rendition>,
    pub segment_seconds: f64,
    /// Frame rate the source declares (used for the encoder's rate control and the provisional
    /// master playlist; the final FRAME-RATE is measured from timestamps).
    pub fps: f64,
    pub preset: Preset,
    /// The master names the sound's rendition (`audio/index.m3u8`, written beside the encoder by
    /// `media::audio`) as every variant's audio group.
    pub audio: bool,
    /// A live source's stream: sliding playlists with capture dates.
    pub live: Option<LiveOutput>,
}

/// How a live source's stream is written. Frame timestamps are its stream time: nanoseconds since
/// `epoch_ms`, gaps in the source included, so each segment's capture date follows from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOutput {
    /// Segments each playlist lists (the DVR window). A segment that leaves it is deleted once as
    /// many more have left, so a player that read the playlist just before can still fetch it.
    pub window: usize,
    /// Unix milliseconds at stream time 0.
    pub epoch_ms: u64,
    /// Where an earlier run's playlists left off: numbering goes on from there, after a
    /// discontinuity.
    pub continues: Option<LivePosition>,
}

/// A pause in a live source longer than this ends the segment before it and marks the next one
/// as a discontinuity.
const GAP_NS: u64 = 1_000_000_000;
/// Gaps remembered until the segments around them close (a few segments' worth is plenty).
const GAPS_KEPT: usize = 16;
/// Segment starts remembered until their files close.
const STARTS_KEPT: usize = 16;

/// What a finished encode produced.
#[derive(Debug, Clone)]
pub struct EncodeSummary {
    pub frames: u64,
    pub segments: usize,
    pub variants: Vec<Variant>,
    /// What the job did without, e.g. a sound track that could not be read.
    pub warnings: Vec<String>,
}

struct Branch {
    rendition: Rendition,
    dir: PathBuf,
    playlist: MediaPlaylist,
    /// Fragments opened and not yet closed: file → running time at which it opened. Keyed by
    /// file because splitmuxsink may announce the next fragment before closing the last.
    open_fragments: BTreeMap<String, u64>,
    /// Filled by a probe on the parser's output with the SPS-derived codec string.
    codecs: Arc<Mutex<Option<String>>>,
    /// Live: files that left the playlist, deleted once a window's worth more have left.
    retired: VecDeque<PathBuf>,
}

pub struct Encoder {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    layout: I420Layout,
    clock: SegmentClock,
    branches: Vec<Branch>,
    config: EncoderConfig,
    frames: u64,
    end_ns: u64,
    master: String,
    /// Live: pauses in the source, as (end of the last frame before, first frame after).
    gaps: VecDeque<(u64, u64)>,
    /// Live: from the capture of the last finished segment's first frame to its listing.
    latency: Option<Duration>,
    /// Live: (segment number, first frame's timestamp) of the latest segments; multifilesink
    /// numbers its files the same way.
    starts: VecDeque<(usize, u64)>,
}

impl From<MissingElement> for EncodeError {
    fn from(e: MissingElement) -> Self {
        EncodeError::Pipeline(e.to_string())
    }
}

fn fps_fraction(fps: f64) -> gst::Fraction {
    if fps.is_finite() && fps > 0.0 {
        gst::Fraction::approximate_f64(fps).unwrap_or_else(|| gst::Fraction::new(25, 1))
    } else {
        gst::Fraction::new(0, 1)
    }
}

impl Encoder {
    /// Builds and starts the pipeline for frames of `layout`, and writes the master playlist and
    /// empty media playlists so the stream's layout is known from the start.
    pub fn start(config: EncoderConfig, layout: I420Layout) -> Result<Self, EncodeError> {
        gst::init().map_err(|e| EncodeError::Pipeline(e.to_string()))?;
        let fail = |e: &dyn std::fmt::Display| EncodeError::Pipeline(e.to_string());
        let pipeline = gst::Pipeline::new();
        let i420 = |width, height| {
            gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
                .fps(fps_fraction(config.fps))
                .par(gst::Fraction::new(1, 1))
        };
        let source = i420(layout.width, layout.height).build().map_err(|e| fail(&e))?;
        // Colorimetry and chroma siting spelt out, and kept by every rendition: left unsaid,
        // GStreamer takes a 720p picture as BT.709 and one of 480 lines or less as BT.601, and
        // videoscale converted every frame of the lower renditions from one to the other (three
        // quarters of their scaling's CPU on the 1280×720 sample) for a picture that looks the same.
        let (colorimetry, chroma_site) = (source.colorimetry(), source.chroma_site());
        let sized = |width, height| {
            i420(width, height)
                .colorimetry(&colorimetry)
                .chroma_site(chroma_site)
                .build()
                .and_then(|info| info.to_caps())
                .map_err(|e| fail(&e))
        };
        let caps = source.to_caps().map_err(|e| fail(&e))?;
        // push() waits for room rather than letting appsrc block: a blocked push would never
        // wake up if the pipeline failed downstream.
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(false)
            .max_buffers(APPSRC_QUEUE as u64)
            .max_bytes(0)
            .block(false)
            .build();
        let tee = element("tee")?;
        pipeline.add_many([appsrc.upcast_ref(), &tee]).map_err(|e| fail(&e))?;
        appsrc.link(&tee).map_err(|e| fail(&e))?;

        let segment_ns = (config.segment_seconds * 1e9) as u64;
        // Segments are served as never changing: a live source's runs name theirs apart, so a
        // run after a restart never reuses a name a player may hold in its cache.
        let stem = match config.live {
            Some(_) => format!("r{}-", now_ms()),
            None => "seg".to_string(),
        };
        let mut branches = Vec::new();
        for (index, r) in config.renditions.iter().enumerate() {
            let dir = config.out_dir.join(&r.name);
            std::fs::create_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
            let queue = gst::ElementFactory::make("queue")
                .property("max-size-buffers", RENDITION_QUEUE)
                .property("max-size-bytes", 0u32)
                .property("max-size-time", 0u64)
                .build()
                .map_err(|e| fail(&e))?;
            let mut chain = vec![queue];
            if (r.width, r.height) != (layout.width, layout.height) {
                chain.push(element("videoscale")?);
                chain.push(
                    gst::ElementFactory::make("capsfilter")
                        .property("caps", sized(r.width, r.height)?)
                        .build()
                        .map_err(|e| fail(&e))?,
                );
            }
            let x264 = element("x264enc")?;
            x264.set_property("bitrate", r.bitrate_kbps);
            x264.set_property_from_str("speed-preset", config.preset.as_str());
            x264.set_property("threads", x264_threads());
            // x264enc's rate control is the bitrate with a VBV of that rate over 600 ms: strict
            // enough to starve hard frames. Over 2 s (one segment) the peak stays bounded and the
            // picture is level with libx264's average-bitrate mode at the same size.
            x264.set_property("vbv-buf-capacity", VBV_BUFFER_MS);
            // Keyframes only where we force them (see the module comment).
            x264.set_property("key-int-max", 1_000_000u32);
            if config.live.is_some() {
                // No lookahead and no B-frames: x264 would otherwise hold 10 to 15 frames, a
                // second and more of a 10 fps camera, before a segment could close.
                x264.set_property_from_str("tune", "zerolatency");
            }
            let top = index == 0;
            x264.set_property("option-string", if top { TOP_OPTIONS } else { LOWER_OPTIONS });
            chain.push(x264);
            let parse = element("h264parse")?;
            chain.push(parse.clone());
            let location = dir.join(format!("{stem}%05d.ts"));
            let location = location.to_string_lossy();
            if config.live.is_some() {
                // splitmuxsink closes a file only once the GOP after it is complete: a whole
                // segment late. multifilesink starts the next file at the force-key-unit event
                // the encoder and muxer pass down ahead of each segment's keyframe, so a segment
                // is listed as soon as its last frame is written.
                chain.push(element("mpegtsmux")?);
                let sink = gst::ElementFactory::make("multifilesink")
                    .name(format!("sink-{}", r.name))
                    .property("location", location.as_ref())
                    .property_from_str("next-file", "key-unit-event")
                    .property("post-messages", true)
                    .property("sync", false)
                    .property("async", false)
                    .build()
                    .map_err(|e| fail(&e))?;
                chain.push(sink);
            } else {
                let sink = gst::ElementFactory::make("splitmuxsink")
                    .name(format!("sink-{}", r.name))
                    .property("location", location.as_ref())
                    .property("muxer-factory", "mpegtsmux")
                    // Any GOP longer than this starts a file; ours are whole segments. Half a
                    // segment was too much for the last one: measured without its last frame's
                    // duration, a two-frame GOP at 1 fps reads as 1 s and was appended to the one
                    // before.
                    .property("max-size-time", SPLIT_THRESHOLD_NS)
                    .property("send-keyframe-requests", false)
                    .build()
                    .map_err(|e| fail(&e))?;
                chain.push(sink);
            }
            pipeline.add_many(&chain).map_err(|e| fail(&e))?;
            gst::Element::link_many(&chain).map_err(|e| fail(&e))?;
            tee.link(&chain[0]).map_err(|e| fail(&e))?;

            let codecs = Arc::new(Mutex::new(None));
            watch_sps(&parse, codecs.clone())?;
            branches.push(Branch {
                rendition: r.clone(),
                dir,
                playlist: match config.live {
                    Some(live) => MediaPlaylist::live(config.segment_seconds, live.window)
                        .continuing(live.continues.unwrap_or_default()),
                    None => MediaPlaylist::new(config.segment_seconds),
                },
                open_fragments: BTreeMap::new(),
                codecs,
                retired: VecDeque::new(),
            });
        }

        let mut encoder = Self {
            pipeline,
            appsrc,
            layout,
            clock: SegmentClock::new(segment_ns),
            branches,
            config,
            frames: 0,
            end_ns: 0,
            master: String::new(),
            gaps: VecDeque::new(),
            latency: None,
            starts: VecDeque::new(),
        };
        for b in &encoder.branches {
            write_playlist(b)?;
        }
        encoder.write_master()?;
        if encoder.pipeline.set_state(gst::State::Playing).is_err() {
            let why = encoder
                .pending_error()
                .unwrap_or_else(|| "the pipeline would not start".into());
            return Err(EncodeError::Stream(why));
        }
        Ok(encoder)
    }

    /// Queues one frame for every rendition, waiting (up to `stall`) while appsrc's small queue is
    /// full: this wait is the encoder's backpressure on the rest of the pipeline.
    pub fn push(&mut self, frame: Frame, stall: Duration) -> Result<(), EncodeError> {
        if frame.layout != self.layout {
            return Err(EncodeError::FrameSize {
                index: frame.index,
                got: (frame.layout.width, frame.layout.height),
                want: (self.layout.width, self.layout.height),
            });
        }
        self.process_messages()?;
        let waited = Instant::now();
        while self.appsrc.current_level_buffers() >= APPSRC_QUEUE as u64 {
            // Handles (never drops) the fragment messages meanwhile, and fails on an error.
            self.process_messages()?;
            if waited.elapsed() > stall {
                return Err(EncodeError::Timeout(stall));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let pts = gst::ClockTime::from_nseconds(TIME_BASE + frame.pts_ns);
        // A live source's run that continues an earlier one starts after a gap.
        let continues = self.frames == 0 && self.config.live.is_some_and(|l| l.continues.is_some());
        let gap = continues || (self.frames > 0 && frame.pts_ns > self.end_ns + GAP_NS);
        if gap {
            self.clock.open_at(frame.pts_ns);
            if self.gaps.len() == GAPS_KEPT {
                self.gaps.pop_front();
            }
            self.gaps.push_back((self.end_ns, frame.pts_ns));
        }
        let opens = gap || self.clock.frame(frame.pts_ns);
        if opens && self.config.live.is_some() {
            if self.starts.len() == STARTS_KEPT {
                self.starts.pop_front();
            }
            self.starts.push_back((self.clock.segments() - 1, frame.pts_ns));
        }
        if opens && self.frames > 0 {
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .timestamp(pts)
                .stream_time(pts)
                .running_time(pts)
                .all_headers(true)
                .count(self.clock.segments() as u32)
                .build();
            self.appsrc.send_event(event);
        }
        let mut buffer = gst::Buffer::from_mut_slice(frame.data);
        {
            let b = buffer
                .get_mut()
                .ok_or_else(|| EncodeError::Pipeline("fresh buffer not writable".into()))?;
            b.set_pts(pts);
            b.set_duration(gst::ClockTime::from_nseconds(frame.duration_ns));
            b.set_offset(frame.index);
        }
        self.appsrc
            .push_buffer(buffer)
            .map_err(|e| EncodeError::Stream(self.pending_error().unwrap_or_else(|| format!("{e:?}"))))?;
        self.frames += 1;
        self.end_ns = self.end_ns.max(frame.pts_ns + frame.duration_ns);
        Ok(())
    }

    /// Ends the stream, waits for every segment to be written, and closes the playlists.
    pub fn finish(mut self, timeout: Duration) -> Result<EncodeSummary, EncodeError> {
        self.appsrc
            .end_of_stream()
            .map_err(|e| EncodeError::Stream(format!("end of stream refused: {e:?}")))?;
        let bus = self.bus()?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EncodeError::Timeout(timeout));
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis().min(200) as u64)) else {
                continue;
            };
            if let gst::MessageView::Eos(_) = msg.view() {
                break;
            }
            self.handle(&msg)?;
        }
        // A fragment's closing message can land on the bus just after the pipeline's EOS.
        self.process_messages()?;
        // Fragment times are running times, on the encoder's timeline.
        let end = TIME_BASE + self.end_ns;
        for i in 0..self.branches.len() {
            // Still open after all that: the muxer finished the file at EOS without telling us.
            for (location, start) in std::mem::take(&mut self.branches[i].open_fragments) {
                self.add_segment(i, &location, start, end);
            }
            let b = &mut self.branches[i];
            b.playlist.ended = true;
            write_playlist(b)?;
        }
        self.write_master()?;
        let _ = self.pipeline.set_state(gst::State::Null);
        Ok(EncodeSummary {
            frames: self.frames,
            segments: self
                .branches
                .first()
                .map_or(0, |b| b.playlist.total_segments() as usize),
            variants: self.variants(),
            warnings: Vec::new(),
        })
    }

    /// Whether the master names a sound rendition.
    pub fn has_audio(&self) -> bool {
        self.config.audio
    }

    /// Takes the sound's rendition out of the master (its track could not be written).
    pub fn drop_audio(&mut self) -> Result<(), EncodeError> {
        self.config.audio = false;
        self.write_master()
    }

    /// How many segments every rendition has finished (what a player can fetch).
    pub fn playable_segments(&self) -> usize {
        self.branches
            .iter()
            .map(|b| b.playlist.total_segments() as usize)
            .min()
            .unwrap_or(0)
    }

    /// Live: how long the last finished segment's first frame took from capture to listing.
    pub fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// Live: multifilesink closed file `number` of branch `index`: the segment from its start to
    /// the next one's (or to the end of the stream).
    fn live_file_closed(&mut self, index: usize, file: &str, number: usize) -> Result<(), EncodeError> {
        let start = |n: usize| self.starts.iter().find(|(i, _)| *i == n).map(|(_, p)| *p);
        let Some(from) = start(number) else {
            tracing::warn!(file, "a live segment closed whose start is no longer known; not listed");
            return Ok(());
        };
        let to = start(number + 1).unwrap_or(self.end_ns);
        self.add_segment(index, file, TIME_BASE + from, TIME_BASE + to);
        write_playlist(&self.branches[index])?;
        self.write_master()
    }

    /// Lists the fragment `location` written from `start` to `end` (running times) in branch
    /// `index`'s playlist; for a live source with its capture date, ended before any gap that
    /// follows it, and deleting what left the window long enough ago.
    fn add_segment(&mut self, index: usize, location: &str, start: u64, end: u64) {
        let near = |a: u64, b: u64| a.abs_diff(b) < 1_000_000;
        let (start_pts, end_pts) = (start.saturating_sub(TIME_BASE), end.saturating_sub(TIME_BASE));
        // A pause right after the segment is not part of it.
        let end = match self.gaps.iter().find(|(_, resume)| near(*resume, end_pts)) {
            Some((last_end, _)) => TIME_BASE + last_end,
            None => end,
        };
        let Some(mut seg) = finished_segment(location, start, end) else {
            return;
        };
        let Some(live) = self.config.live else {
            self.branches[index].playlist.push(seg);
            return;
        };
        let captured_ms = live.epoch_ms + start_pts / 1_000_000;
        seg.wall_ms = Some(captured_ms);
        seg.discontinuity = self.gaps.iter().any(|(_, resume)| near(*resume, start_pts));
        if index == 0 {
            self.latency = Some(Duration::from_millis(now_ms().saturating_sub(captured_ms)));
        }
        let b = &mut self.branches[index];
        for gone in b.playlist.push(seg) {
            b.retired.push_back(b.dir.join(gone.uri));
        }
        while b.retired.len() > live.window {
            if let Some(old) = b.retired.pop_front() {
                // Already gone is fine; anything else only costs disk, which retention sweeps.
                if let Err(e) = std::fs::remove_file(&old) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(file = %old.display(), "could not delete an old live segment: {e}");
                    }
                }
            }
        }
    }

    fn bus(&self) -> Result<gst::Bus, EncodeError> {
        self.pipeline
            .bus()
            .ok_or_else(|| EncodeError::Pipeline("pipeline without a bus".into()))
    }

    /// Handles what the pipeline has said so far, without waiting.
    pub fn process_messages(&mut self) -> Result<(), EncodeError> {
        let bus = self.bus()?;
        while let Some(msg) = bus.pop() {
            self.handle(&msg)?;
        }
        Ok(())
    }

    /// The error the pipeline reported, if any, handling whatever else it said on the way.
    fn pending_error(&mut self) -> Option<String> {
        self.process_messages().err().map(|e| e.to_string())
    }

    fn handle(&mut self, msg: &gst::Message) -> Result<(), EncodeError> {
        match msg.view() {
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                Err(EncodeError::Stream(format!("{source}: {}", e.error())))
            }
            gst::MessageView::Element(el) => {
                let Some(s) = el.structure() else { return Ok(()) };
                let Some(src) = msg.src().map(|s| s.name().to_string()) else {
                    return Ok(());
                };
                let Some(index) = self
                    .branches
                    .iter()
                    .position(|b| src == format!("sink-{}", b.rendition.name))
                else {
                    return Ok(());
                };
                if s.name() == "GstMultiFileSink" {
                    // The file's number is read off its name: the message's `index` is already
                    // the next file's (multifilesink counts the file before it says it closed).
                    let file: String = s.get("filename").unwrap_or_default();
                    match file_number(&file) {
                        Some(number) => self.live_file_closed(index, &file, number)?,
                        None => tracing::warn!(file, "a live segment with an unexpected name; not listed"),
                    }
                    return Ok(());
                }
                let running = s.get::<u64>("running-time").unwrap_or(0);
                let location: String = s.get("location").unwrap_or_default();
                let branch = &mut self.branches[index];
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => {
                        branch.open_fragments.insert(location, running);
                    }
                    "splitmuxsink-fragment-closed" => {
                        let start = branch.open_fragments.remove(&location).unwrap_or(running);
                        self.add_segment(index, &location, start, running);
                        write_playlist(&self.branches[index])?;
                        // Codec strings and bitrates are known now; refresh the master if they changed.
                        self.write_master()?;
                    }
                    _ => {}
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn variants(&self) -> Vec<Variant> {
        let measured_fps =
            (self.frames > 1 && self.end_ns > 0).then(|| self.frames as f64 / (self.end_ns as f64 / 1e9));
        self.branches
            .iter()
            .map(|b| {
                let r = &b.rendition;
                let nominal = r.bitrate_kbps as u64 * 1000;
                let (peak, avg) = b.playlist.bitrates().unwrap_or((nominal * 6 / 5, nominal));
                let codecs = b.codecs.lock().ok().and_then(|c| c.clone());
                Variant {
                    uri: format!("{}/index.m3u8", r.name),
                    bandwidth: peak,
                    average_bandwidth: avg,
                    width: r.width,
                    height: r.height,
                    codecs: codecs.unwrap_or_else(|| provisional_codecs(r, self.config.fps)),
                    frame_rate: measured_fps.unwrap_or(self.config.fps),
                }
            })
            .collect()
    }

    fn write_master(&mut self) -> Result<(), EncodeError> {
        let text = render_master(&self.variants(), self.config.audio);
        if text != self.master {
            let path = self.config.out_dir.join("master.m3u8");
            write_atomic(&path, &text).map_err(|e| write_err(&path, e))?;
            self.master = text;
        }
        Ok(())
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn write_err(path: &Path, e: std::io::Error) -> EncodeError {
    EncodeError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The number in a segment file's name (`…00042.ts` is 42).
fn file_number(file: &str) -> Option<usize> {
    let stem = Path::new(file).file_stem()?.to_str()?;
    let digits = stem.len() - stem.bytes().rev().take_while(u8::is_ascii_digit).count();
    stem[digits..].parse().ok()
}

/// The playlist entry of a fragment file written from `start` to `end` (running time, ns).
pub(crate) fn finished_segment(location: &str, start: u64, end: u64) -> Option<Segment> {
    let path = Path::new(location);
    let bytes = std::fs::metadata(path).map(|m| m.len()).ok().filter(|b| *b > 0)?;
    Some(Segment {
        uri: path.file_name()?.to_string_lossy().into_owned(),
        duration: end.saturating_sub(start) as f64 / 1e9,
        bytes,
        ..Segment::default()
    })
}

fn write_playlist(b: &Branch) -> Result<(), EncodeError> {
    let path = b.dir.join("index.m3u8");
    write_atomic(&path, &b.playlist.render()).map_err(|e| write_err(&path, e))
}

/// Reads the SPS off the parser's first buffers into `slot`, then removes itself.
fn watch_sps(parse: &gst::Element, slot: Arc<Mutex<Option<String>>>) -> Result<(), EncodeError> {
    let pad = parse
        .static_pad("src")
        .ok_or_else(|| EncodeError::Pipeline("h264parse without a src pad".into()))?;
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let Ok(map) = buffer.map_readable() else {
            return gst::PadProbeReturn::Ok;
        };
        match avc1_from_annexb(&map) {
            Some(codecs) => {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(codecs);
                }
                gst::PadProbeReturn::Remove
            }
            None => gst::PadProbeReturn::Ok,
        }
    });
    Ok(())
}

/// High profile at the lowest level that fits the rendition, what x264 will pick; replaced by
/// the SPS's own value as soon as the first encoded frame is seen.
fn provisional_codecs(r: &Rendition, fps: f64) -> String {
    let mbs = (r.width.div_ceil(16) * r.height.div_ceil(16)) as f64;
    let rate = mbs * if fps > 0.0 { fps } else { 30.0 };
    // (level_idc, max macroblocks per frame, max macroblocks per second)
    const LEVELS: [(u32, f64, f64); 8] = [
        (30, 1620.0, 40500.0),
        (31, 3600.0, 108000.0),
        (32, 5120.0, 216000.0),
        (40, 8192.0, 245760.0),
        (42, 8704.0, 522240.0),
        (50, 22080.0, 589824.0),
        (51, 36864.0, 983040.0),
        (52, 36864.0, 2073600.0),
    ];
    let level = LEVELS
        .iter()
        .find(|(_, f, s)| mbs <= *f && rate <= *s)
        .map_or(52, |l| l.0);
    format!("avc1.6400{level:02x}")
}

#[cfg(test)]
mod tests {
    use super::file_number;

    #[test]
    fn a_segment_file_number_is_read_off_its_name() {
        assert_eq!(file_number("/streams/7/576p/r1796202736976-00042.ts"), Some(42));
        assert_eq!(file_number("seg00000.ts"), Some(0));
        assert_eq!(file_number("/streams/7/576p/playlist.ts"), None);
    }
}
