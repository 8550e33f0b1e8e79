//! The sound track: one HLS audio rendition (`audio/index.m3u8`, AAC-LC in MPEG-TS segments)
//! that every video rendition of a job shares, as an `#EXT-X-MEDIA:TYPE=AUDIO` group.
//!
//! One group rather than sound muxed into each rendition: the sound is written (and, when it is
//! not AAC-LC already, encoded) once however many renditions there are, and a player switching
//! renditions keeps one continuous audio stream, as HLS players expect of adaptive streams.
//!
//! It runs as a pipeline of its own, beside the video's, so that a broken sound track can only
//! lose the sound, never the job:
//!
//! ```text
//! filesrc ! parsebin ─┬─ (AAC-LC)  queue ! stamp ! tee ! aacparse ─────────────────────────┐
//!                     │                             └─ queue ! decodebin ! fakesink (check)│
//!                     ├─ (other)   queue ! stamp ! decodebin ! audioconvert ! audioresample│
//!                     │                            ! avenc_aac ! aacparse ─────── splitmuxsink(mpegtsmux)
//!                     └─ (video)   fakesink: the first video timestamp
//! ```
//!
//! The video pipeline starts its timeline at its first frame; `stamp` moves each audio buffer onto
//! that timeline (its time minus the first video time, on the encoder's `TIME_BASE`), so the two
//! playlists' segments carry matching MPEG-TS timestamps, which is what players align them by.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::element::{element, MissingElement};
use super::encoder::{finished_segment, TIME_BASE};
use crate::hls::{write_atomic, MediaPlaylist, AUDIO_BANDWIDTH, AUDIO_DIR};
/// How long the sound waits for the first video timestamp before taking its own as the start.
const VIDEO_START_WAIT: Duration = Duration::from_secs(10);
/// The sound may run this far ahead of the first video packet in the file.
const AUDIO_QUEUE: Duration = Duration::from_secs(10);
/// The sound gives up when it has not moved for this long: a decoder that takes packets and
/// never gives anything back (a garbled track) stalls the pipeline rather than failing it.
const AUDIO_STALL: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("could not build the audio pipeline: {0}")]
    Pipeline(String),
    #[error("the sound could not be read: {0}")]
    Stream(String),
    #[error("the file has no sound track")]
    NoAudio,
    #[error("could not write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("the sound took longer than {0:?}")]
    Timeout(Duration),
    #[error("the job stopped")]
    Cancelled,
}

impl From<MissingElement> for AudioError {
    fn from(e: MissingElement) -> Self {
        AudioError::Pipeline(e.to_string())
    }
}

/// The stream time (the file's presentation time) of the first video frame, once seen.
#[derive(Default)]
struct VideoStart {
    at: Mutex<Option<u64>>,
    seen: Condvar,
}

impl VideoStart {
    fn set(&self, pts: u64) {
        if let Ok(mut at) = self.at.lock() {
            if at.is_none() {
                *at = Some(pts);
                self.seen.notify_all();
            }
        }
    }

    /// Waits for the first video timestamp; `None` when none came in time.
    fn wait(&self, limit: Duration) -> Option<u64> {
        let at = self.at.lock().ok()?;
        let (at, _) = self.seen.wait_timeout_while(at, limit, |at| at.is_none()).ok()?;
        *at
    }
}

/// Writes the sound of `input` as an HLS audio rendition under `out_dir/audio`, the playlist
/// growing as segments close. Fails (and the caller carries on without sound) when the file has
/// none or it cannot be read, decoded or encoded; stops soon after `cancel` is set.
pub fn extract(
    input: &Path,
    out_dir: &Path,
    segment_seconds: f64,
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<(), AudioError> {
    gst::init().map_err(|e| AudioError::Pipeline(e.to_string()))?;
    let dir = out_dir.join(AUDIO_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| write_err(&dir, e))?;
    let fail = |e: &dyn std::fmt::Display| AudioError::Pipeline(e.to_string());

    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", input.to_string_lossy().as_ref())
        .build()
        .map_err(|e| fail(&e))?;
    let parse = element("parsebin")?;
    let sink = gst::ElementFactory::make("splitmuxsink")
        .property("location", dir.join("seg%05d.ts").to_string_lossy().as_ref())
        .property("muxer-factory", "mpegtsmux")
        .property("max-size-time", (segment_seconds * 1e9) as u64)
        .build()
        .map_err(|e| fail(&e))?;
    pipeline.add_many([&src, &parse, &sink]).map_err(|e| fail(&e))?;
    src.link(&parse).map_err(|e| fail(&e))?;

    // Requested now: splitmuxsink takes new streams only before it starts.
    let audio_pad = sink
        .request_pad_simple("audio_%u")
        .ok_or_else(|| AudioError::Pipeline("the segment writer refused an audio stream".into()))?;
    let start = Arc::new(VideoStart::default());
    let end = Arc::new(Mutex::new(0u64));
    // Set on the first sound track, the one kept.
    let found = Arc::new(AtomicBool::new(false));
    let linked = Arc::new(Mutex::new(Option::<String>::None));
    {
        let pipeline = pipeline.downgrade();
        let (start, end, found, linked) = (start.clone(), end.clone(), found.clone(), linked.clone());
        let audio_pad = audio_pad.clone();
        parse.connect_pad_added(move |_, pad| {
            let Some(pipeline) = pipeline.upgrade() else { return };
            let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
            let Some(s) = caps.as_ref().and_then(|c| c.structure(0)).map(|s| s.to_owned()) else {
                return;
            };
            let result = if s.name().starts_with("audio/") && !found.swap(true, Ordering::Relaxed) {
                let aac_lc = s.name() == "audio/mpeg"
                    && s.get::<i32>("mpegversion").is_ok_and(|v| v == 4)
                    && s.get::<&str>("profile").is_ok_and(|p| p == "lc");
                link_audio(&pipeline, pad, &audio_pad, aac_lc, start.clone(), end.clone())
            } else if s.name().starts_with("video/") {
                link_video_start(&pipeline, pad, start.clone())
            } else {
                // A second sound track, subtitles, data: dropped.
                link_discard(&pipeline, pad).map(|_| ())
            };
            if let Err(e) = result {
                if let Ok(mut l) = linked.lock() {
                    *l = Some(e.to_string());
                }
            }
        });
    }

    {
        // Without a sound track the requested audio stream would wait forever: end it now.
        let found = found.clone();
        let audio_pad = audio_pad.clone();
        parse.connect_no_more_pads(move |_| {
            if !found.load(Ordering::Relaxed) {
                let _ = audio_pad.send_event(gst::event::Eos::new());
            }
        });
    }
    let mut playlist = MediaPlaylist::new(segment_seconds);
    let playlist_path = dir.join("index.m3u8");
    let write = |p: &MediaPlaylist| write_atomic(&playlist_path, &p.render()).map_err(|e| write_err(&playlist_path, e));
    write(&playlist)?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| AudioError::Pipeline("pipeline without a bus".into()))?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(AudioError::Stream(
            bus_error(&bus).unwrap_or_else(|| "the pipeline would not start".into()),
        ));
    }
    let _running = Running(pipeline.clone());
    let deadline = Instant::now() + timeout;
    let mut open: Vec<(String, u64)> = Vec::new();
    let (mut reached, mut moved_at) = (0, Instant::now());
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(AudioError::Cancelled);
        }
        let now_at = end.lock().map(|e| *e).unwrap_or(0);
        if now_at != reached {
            (reached, moved_at) = (now_at, Instant::now());
        } else if moved_at.elapsed() > AUDIO_STALL {
            return Err(AudioError::Stream(format!(
                "it stopped decoding (nothing for {} s)",
                AUDIO_STALL.as_secs()
            )));
        }
        if let Some(e) = linked.lock().ok().and_then(|mut l| l.take()) {
            return Err(AudioError::Pipeline(e));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AudioError::Timeout(timeout));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis().min(200) as u64)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                return Err(AudioError::Stream(format!("{source}: {}", e.error())));
            }
            gst::MessageView::Element(el) => {
                let Some(s) = el.structure() else { continue };
                let running = s.get::<u64>("running-time").unwrap_or(0);
                let location: String = s.get("location").unwrap_or_default();
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => open.push((location, running)),
                    "splitmuxsink-fragment-closed" => {
                        let opened = open.iter().position(|(l, _)| *l == location).map(|i| open.remove(i).1);
                        if let Some(seg) = finished_segment(&location, opened.unwrap_or(running), running) {
                            playlist.push(seg);
                        }
                        write(&playlist)?;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if let Some(e) = linked.lock().ok().and_then(|mut l| l.take()) {
        return Err(AudioError::Pipeline(e));
    }
    if !found.load(Ordering::Relaxed) {
        return Err(AudioError::NoAudio);
    }
    // A fragment the muxer finished at the end of the stream without a closing message.
    let last = end.lock().map(|e| *e).unwrap_or(0);
    for (location, opened) in open {
        if let Some(seg) = finished_segment(&location, opened, last) {
            playlist.push(seg);
        }
    }
    if playlist.segments.is_empty() {
        return Err(AudioError::NoAudio);
    }
    playlist.ended = true;
    write(&playlist)
}

/// Stops the pipeline however `extract` returns.
struct Running(gst::Pipeline);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// The sound's branch: a queue (so waiting for the video's start never blocks the demuxer),
/// the re-stamping probe, then either the parser alone or a decoder and an AAC encoder.
fn link_audio(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    audio_pad: &gst::Pad,
    aac_lc: bool,
    start: Arc<VideoStart>,
    end: Arc<Mutex<u64>>,
) -> Result<(), AudioError> {
    let fail = |e: &dyn std::fmt::Display| AudioError::Pipeline(e.to_string());
    let queue = gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", AUDIO_QUEUE.as_nanos() as u64)
        .build()
        .map_err(|e| fail(&e))?;
    let tail = element("aacparse")?;
    pipeline.add_many([&queue, &tail]).map_err(|e| fail(&e))?;
    if aac_lc {
        // Copied as it is, and decoded beside it only to find out that it can be: a track
        // whose packets do not decode fails here, as a transcoded one would.
        let tee = element("tee")?;
        let check = gst::ElementFactory::make("queue")
            .property("max-size-time", AUDIO_QUEUE.as_nanos() as u64)
            .build()
            .map_err(|e| fail(&e))?;
        let discard = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|e| fail(&e))?;
        pipeline.add_many([&tee, &check, &discard]).map_err(|e| fail(&e))?;
        gst::Element::link_many([&queue, &tee, &tail]).map_err(|e| fail(&e))?;
        tee.link(&check).map_err(|e| fail(&e))?;
        decode_into(pipeline, &check, &discard)?;
        for e in [&tee, &check, &discard] {
            e.sync_state_with_parent().map_err(|e| fail(&e))?;
        }
    } else {
        let convert = element("audioconvert")?;
        let resample = element("audioresample")?;
        let encode = element("avenc_aac")?;
        encode.set_property("bitrate", AUDIO_BANDWIDTH as i32);
        pipeline
            .add_many([&convert, &resample, &encode])
            .map_err(|e| fail(&e))?;
        gst::Element::link_many([&convert, &resample, &encode, &tail]).map_err(|e| fail(&e))?;
        decode_into(pipeline, &queue, &convert)?;
        for e in [&convert, &resample, &encode] {
            e.sync_state_with_parent().map_err(|e| fail(&e))?;
        }
    }
    let tail_src = tail
        .static_pad("src")
        .ok_or_else(|| AudioError::Pipeline("aacparse without a src pad".into()))?;
    tail_src.link(audio_pad).map_err(|e| fail(&e))?;
    let queue_src = queue
        .static_pad("src")
        .ok_or_else(|| AudioError::Pipeline("queue without a src pad".into()))?;
    stamp(&queue_src, start, end);
    for e in [&queue, &tail] {
        e.sync_state_with_parent().map_err(|e| fail(&e))?;
    }
    let queue_sink = queue
        .static_pad("sink")
        .ok_or_else(|| AudioError::Pipeline("queue without a sink pad".into()))?;
    pad.link(&queue_sink).map_err(|e| fail(&e))?;
    Ok(())
}

/// `from ! decodebin ! to`, linked once decodebin knows what it decodes.
fn decode_into(pipeline: &gst::Pipeline, from: &gst::Element, to: &gst::Element) -> Result<(), AudioError> {
    let fail = |e: &dyn std::fmt::Display| AudioError::Pipeline(e.to_string());
    let decode = element("decodebin")?;
    pipeline.add(&decode).map_err(|e| fail(&e))?;
    from.link(&decode).map_err(|e| fail(&e))?;
    let to_sink = to
        .static_pad("sink")
        .ok_or_else(|| AudioError::Pipeline("a decoded stream with nowhere to go".into()))?;
    decode.connect_pad_added(move |_, pad| {
        if !to_sink.is_linked() {
            let _ = pad.link(&to_sink);
        }
    });
    decode.sync_state_with_parent().map_err(|e| fail(&e))
}

/// Puts the sound on the video's timeline: the segment's base (the running time its start maps
/// to) is moved so that the first video frame's time becomes `TIME_BASE`, as in the encoder
/// (whose frames are timed from the first one). Times compare as stream times, so the demuxers'
/// segment starts (edit lists, an AAC encoder's priming samples) are honoured on both sides.
/// The buffers keep their own times, which must stay inside the demuxer's segment. Waits for the
/// first video time on the queue's thread, never the demuxer's. Keeps the latest running time
/// reached, where a fragment the muxer closes at the end of the stream ends.
fn stamp(pad: &gst::Pad, start: Arc<VideoStart>, end: Arc<Mutex<u64>>) {
    let segment = Arc::new(Mutex::new(None::<gst::FormattedSegment<gst::ClockTime>>));
    let moved = segment.clone();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        let gst::EventView::Segment(s) = event.view() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(mut time) = s.segment().downcast_ref::<gst::ClockTime>().cloned() else {
            return gst::PadProbeReturn::Ok;
        };
        // Running time = time since the segment's start + base; the wanted running time is
        // TIME_BASE + (stream time − the first video frame's stream time), and stream time =
        // time since the segment's start + the segment's `time`.
        let at = time.time().map_or(0, |t| t.nseconds());
        let video = start.wait(VIDEO_START_WAIT).unwrap_or(at);
        time.set_base(gst::ClockTime::from_nseconds((TIME_BASE + at).saturating_sub(video)));
        let replaced = gst::event::Segment::builder(&time).seqnum(event.seqnum()).build();
        if let Ok(mut m) = moved.lock() {
            *m = Some(time);
        }
        info.data = Some(gst::PadProbeData::Event(replaced));
        gst::PadProbeReturn::Ok
    });
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let until = buffer
            .pts()
            .map(|pts| pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO));
        let running = segment
            .lock()
            .ok()
            .and_then(|s| s.as_ref().and_then(|s| until.and_then(|u| s.to_running_time(u))));
        if let (Some(r), Ok(mut e)) = (running, end.lock()) {
            *e = (*e).max(r.nseconds());
        }
        gst::PadProbeReturn::Ok
    });
}

/// The video's packets are only looked at for their first timestamp.
fn link_video_start(pipeline: &gst::Pipeline, pad: &gst::Pad, start: Arc<VideoStart>) -> Result<(), AudioError> {
    let sink = link_discard(pipeline, pad)?;
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| AudioError::Pipeline("fakesink without a sink pad".into()))?;
    sink_pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(pts) = info.buffer().and_then(|b| b.pts()) else {
            return gst::PadProbeReturn::Ok;
        };
        let stream_time = pad
            .sticky_event::<gst::event::Segment>(0)
            .and_then(|e| {
                e.segment()
                    .downcast_ref::<gst::ClockTime>()
                    .and_then(|s| s.to_stream_time(pts))
            })
            .unwrap_or(pts);
        start.set(stream_time.nseconds());
        gst::PadProbeReturn::Remove
    });
    Ok(())
}

fn link_discard(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<gst::Element, AudioError> {
    let fail = |e: &dyn std::fmt::Display| AudioError::Pipeline(e.to_string());
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
        .map_err(|e| fail(&e))?;
    pipeline.add(&sink).map_err(|e| fail(&e))?;
    sink.sync_state_with_parent().map_err(|e| fail(&e))?;
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| AudioError::Pipeline("fakesink without a sink pad".into()))?;
    pad.link(&sink_pad).map_err(|e| fail(&e))?;
    Ok(sink)
}

fn bus_error(bus: &gst::Bus) -> Option<String> {
    bus.iter().find_map(|msg| match msg.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    })
}

fn write_err(path: &Path, e: std::io::Error) -> AudioError {
    AudioError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
