//! GStreamer decoding of a video file into packed I420 frames, pulled one at a time.
//!
//! `filesrc ! decodebin ! deinterlace ! videoconvert ! videoflip ! video/x-raw,format=I420 !
//! appsink`; deinterlace and videoconvert pass frames through untouched when the decoder already
//! gives progressive I420 (the common case); otherwise interlaced frames are deinterlaced (one
//! frame per frame, from the top field) and 10-bit, 4:2:2 or 4:4:4 ones converted once to 8-bit
//! I420, which drawing and x264 take.
//! videoflip turns the picture upright from the file's orientation tag (a phone's portrait clip is
//! stored landscape and tagged "rotate 90"), so every later stage, and every stored box, sees the
//! picture as players show it; untagged, it passes frames through. Audio and other streams go to
//! fakesinks. appsink holds at most two samples, so the decoder waits for us.

use std::path::Path;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::element::{element, MissingElement};
use super::threads::limit_decoder_threads;
use super::video_stream::take_video;
use crate::frame::{Frame, I420Layout};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("could not build the decoding pipeline: {0}")]
    Pipeline(String),
    #[error("decoding failed: {0}")]
    Stream(String),
    #[error("the decoder produced nothing for {0:?}")]
    Stalled(Duration),
}

impl From<MissingElement> for DecodeError {
    fn from(e: MissingElement) -> Self {
        DecodeError::Pipeline(e.to_string())
    }
}

pub struct Decoder {
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    first_pts: Option<u64>,
    last_end: u64,
    next_index: u64,
}

impl Decoder {
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        gst::init().map_err(|e| DecodeError::Pipeline(e.to_string()))?;
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("filesrc")
            .property("location", path.to_string_lossy().as_ref())
            .build()
            .map_err(|e| DecodeError::Pipeline(e.to_string()))?;
        let decodebin = element("decodebin")?;
        limit_decoder_threads(&decodebin);
        let deinterlace = element("deinterlace")?;
        // One frame out per frame in (the default makes one per field, doubling the rate).
        deinterlace.set_property_from_str("fields", "top");
        let convert = element("videoconvert")?;
        let upright = element("videoflip")?;
        upright.set_property_from_str("video-direction", "auto");
        let appsink = gst_app::AppSink::builder()
            .caps(
                &gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build(),
            )
            .max_buffers(2)
            .drop(false)
            .sync(false)
            .build();
        let fail = |e: &dyn std::fmt::Display| DecodeError::Pipeline(e.to_string());
        pipeline
            .add_many([&src, &decodebin, &deinterlace, &convert, &upright, appsink.upcast_ref()])
            .map_err(|e| fail(&e))?;
        src.link(&decodebin).map_err(|e| fail(&e))?;
        gst::Element::link_many([&deinterlace, &convert, &upright, appsink.upcast_ref()]).map_err(|e| fail(&e))?;

        let video_sink = deinterlace
            .static_pad("sink")
            .ok_or_else(|| DecodeError::Pipeline("no sink pad".into()))?;
        take_video(&decodebin, &pipeline, video_sink);

        let decoder = Self {
            pipeline,
            appsink,
            first_pts: None,
            last_end: 0,
            next_index: 0,
        };
        if decoder.pipeline.set_state(gst::State::Playing).is_err() {
            let why = decoder
                .bus_error()
                .unwrap_or_else(|| "the decoding pipeline would not start".into());
            return Err(DecodeError::Stream(why));
        }
        Ok(decoder)
    }

    /// The next frame (timestamps rebased so the first frame is at 0), or `None` at the end of
    /// the stream. Fails with the decoder's own message
    /// on a stream error, and gives up if nothing arrives for `stall`.
    pub fn next_frame(&mut self, stall: Duration) -> Result<Option<Frame>, DecodeError> {
        let started = Instant::now();
        loop {
            if let Some(sample) = self.appsink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
                return self.convert(&sample).map(Some);
            }
            // pull returns nothing on EOS, on error and on timeout alike: the bus says which.
            if let Some(err) = self.bus_error() {
                return Err(DecodeError::Stream(err));
            }
            if self.appsink.is_eos() {
                return match self.next_index {
                    0 => Err(DecodeError::Stream("the file holds no video frames".into())),
                    _ => Ok(None),
                };
            }
            if started.elapsed() >= stall {
                return Err(DecodeError::Stalled(stall));
            }
        }
    }

    /// End time of the last frame decoded, in nanoseconds from the first.
    pub fn decoded_until(&self) -> u64 {
        self.last_end
    }

    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(e) => Some(match e.debug() {
                Some(debug) => format!("{} ({})", e.error(), first_line(&debug)),
                None => e.error().to_string(),
            }),
            _ => None,
        }
    }

    fn convert(&mut self, sample: &gst::Sample) -> Result<Frame, DecodeError> {
        let raw = RawFrame::from_sample(sample)?;
        let duration_ns = raw.duration_ns;
        let first = *self.first_pts.get_or_insert(raw.pts.unwrap_or(0));
        // Frames without a timestamp, or going backwards, follow the previous one.
        let pts_ns = raw
            .pts
            .map(|p| p.saturating_sub(first))
            .filter(|p| self.next_index == 0 || *p >= self.last_end.saturating_sub(duration_ns))
            .unwrap_or(self.last_end);
        self.last_end = pts_ns + duration_ns;
        let index = self.next_index;
        self.next_index += 1;
        Ok(Frame {
            index,
            pts_ns,
            duration_ns,
            layout: raw.layout,
            data: raw.data,
        })
    }
}

/// A decoded picture copied out of GStreamer, with the timing its buffer carries.
pub(crate) struct RawFrame {
    pub layout: I420Layout,
    pub data: Vec<u8>,
    /// The buffer's own timestamp, if it has one.
    pub pts: Option<u64>,
    /// The buffer's duration, or one frame period at the caps' rate (25 fps when unknown).
    pub duration_ns: u64,
}

impl RawFrame {
    /// Copies an I420 sample's planes into one packed buffer.
    pub(crate) fn from_sample(sample: &gst::Sample) -> Result<Self, DecodeError> {
        let bad = |what: &str| DecodeError::Stream(format!("decoder produced an unusable frame: {what}"));
        let caps = sample.caps().ok_or_else(|| bad("no caps"))?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| bad("caps are not raw video"))?;
        let buffer = sample.buffer().ok_or_else(|| bad("no buffer"))?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|_| bad("unmappable"))?;
        let layout = I420Layout::new(info.width(), info.height());
        // The one copy appsink forces: its buffers are not writable, and the renderer draws.
        let mut data = Vec::with_capacity(layout.len());
        let planes = [
            (layout.width as usize, layout.height as usize),
            (layout.chroma_width(), layout.chroma_height()),
            (layout.chroma_width(), layout.chroma_height()),
        ];
        for (plane, (w, h)) in planes.into_iter().enumerate() {
            let src = frame.plane_data(plane as u32).map_err(|_| bad("missing plane"))?;
            let stride = frame.plane_stride()[plane] as usize;
            for row in 0..h {
                let start = row * stride;
                data.extend_from_slice(src.get(start..start + w).ok_or_else(|| bad("short plane"))?);
            }
        }

        let fps_ns = info.fps();
        let nominal = if fps_ns.numer() > 0 && fps_ns.denom() > 0 {
            1_000_000_000u64 * fps_ns.denom() as u64 / fps_ns.numer() as u64
        } else {
            40_000_000
        };
        let duration_ns = buffer
            .duration()
            .map(|d| d.nseconds())
            .filter(|d| *d > 0)
            .unwrap_or(nominal);
        Ok(RawFrame {
            layout,
            data,
            pts: buffer.pts().map(|p| p.nseconds()),
            duration_ns,
        })
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
