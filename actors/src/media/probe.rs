//! Checking a file before a job is created: is it a video we can decode, and what is it?

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer_pbutils as gst_pbutils;
use gstreamer_pbutils::prelude::*;

/// What a probe learnt about a video file.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoProbe {
    /// The upright picture's size: a file tagged as turned a quarter reports its stored size
    /// swapped, as the decoder will deliver it.
    pub width: u32,
    pub height: u32,
    /// As the container declares it; 0 when it does not (variable frame rate).
    pub fps: f64,
    pub duration_ms: u64,
    pub has_audio: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}: no such file")]
    Missing(String),
    #[error("{0} is empty")]
    Empty(String),
    #[error("{path} is not a video we can decode: {reason}")]
    NotVideo { path: String, reason: String },
    #[error("{0} has no video stream (audio only?)")]
    NoVideoStream(String),
    #[error("{path}: no decoder for {codec} is installed")]
    NoDecoder { path: String, codec: String },
    #[error("could not start GStreamer: {0}")]
    Init(String),
}

/// Probes `path` with GStreamer's discoverer, giving up after `timeout`.
pub fn probe(path: &Path, timeout: Duration) -> Result<VideoProbe, ProbeError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| ProbeError::Missing(shown.clone()))?;
    if !meta.is_file() {
        return Err(ProbeError::Missing(shown));
    }
    if meta.len() == 0 {
        return Err(ProbeError::Empty(shown));
    }
    gst::init().map_err(|e| ProbeError::Init(e.to_string()))?;
    let absolute = std::fs::canonicalize(path).map_err(|_| ProbeError::Missing(shown.clone()))?;
    let uri = gst::glib::filename_to_uri(&absolute, None).map_err(|e| ProbeError::NotVideo {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64))
        .map_err(|e| ProbeError::Init(e.to_string()))?;
    let not_video = |reason: String| ProbeError::NotVideo {
        path: shown.clone(),
        reason,
    };
    let info = discoverer.discover_uri(&uri).map_err(|e| {
        // Say which decoder is missing: the discoverer's error does not.
        let missing = e
            .matches(gst::CoreError::MissingPlugin)
            .then(|| missing_video_decoder(&missing_decoders(&absolute, timeout)))
            .flatten();
        match missing {
            Some(codec) => ProbeError::NoDecoder {
                path: shown.clone(),
                codec,
            },
            None => not_video(e.to_string()),
        }
    })?;
    match info.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        other => return Err(not_video(format!("{other:?}"))),
    }
    let Some(video) = info.video_streams().into_iter().find(|v| !v.is_image()) else {
        return Err(ProbeError::NoVideoStream(shown));
    };
    // Image formats that discoverer reports as video (GIF, even animated) are not what the
    // pipeline is for; refuse them here rather than let a job stall on them. Motion JPEG (a
    // JPEG per frame, in AVI or QuickTime from cameras) is a video codec.
    let image = video
        .caps()
        .and_then(|c| {
            c.structure(0)
                .map(|s| s.name().starts_with("image/") && s.name() != "image/jpeg")
        })
        .unwrap_or(false);
    if image {
        return Err(not_video("it is an image, not a video".into()));
    }
    let rate = video.framerate();
    let fps = if rate.numer() > 0 && rate.denom() > 0 {
        rate.numer() as f64 / rate.denom() as f64
    } else {
        0.0
    };
    if video.width() == 0 || video.height() == 0 {
        return Err(not_video("the video stream has no size".into()));
    }
    let sideways = video
        .tags()
        .and_then(|tags| {
            tags.get::<gst::tags::ImageOrientation>()
                .map(|o| turns_sideways(o.get()))
        })
        .unwrap_or(false);
    let (width, height) = if sideways {
        (video.height(), video.width())
    } else {
        (video.width(), video.height())
    };
    Ok(VideoProbe {
        width,
        height,
        fps,
        duration_ms: info.duration().map_or(0, |d| d.mseconds()),
        has_audio: !info.audio_streams().is_empty(),
    })
}

/// The installer details (`gstreamer|1.0|…|decoder-video/…`) of the decoders a file needs and
/// this machine lacks, from the messages decodebin posts while it prerolls the file.
fn missing_decoders(path: &Path, timeout: Duration) -> Vec<String> {
    let mut details = Vec::new();
    let Ok(pipeline) = gst::parse::launch("filesrc name=src ! decodebin ! fakesink async=false") else {
        return details;
    };
    let Ok(pipeline) = pipeline.downcast::<gst::Pipeline>() else {
        return details;
    };
    if let Some(src) = pipeline.by_name("src") {
        src.set_property("location", path.to_string_lossy().as_ref());
    }
    let Some(bus) = pipeline.bus() else { return details };
    let _ = pipeline.set_state(gst::State::Paused);
    let deadline = std::time::Instant::now() + timeout;
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(
        deadline.saturating_duration_since(std::time::Instant::now()).as_nanos() as u64,
    )) {
        match msg.view() {
            gst::MessageView::Element(_) => {
                if let Ok(missing) = gst_pbutils::MissingPluginMessage::parse(&msg) {
                    details.push(missing.installer_detail().to_string());
                }
            }
            gst::MessageView::Error(_) | gst::MessageView::AsyncDone(_) | gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    details
}

/// The description of the first missing video decoder in GStreamer's installer details
/// (`gstreamer|1.0|app|<description>|decoder-video/...`).
fn missing_video_decoder(details: &[String]) -> Option<String> {
    details.iter().find_map(|d| {
        let fields: Vec<&str> = d.split('|').collect();
        let what = fields.get(4)?;
        what.starts_with("decoder-video/").then(|| {
            let description = fields.get(3).copied().unwrap_or_default();
            let description = description.trim_end_matches(" decoder");
            if description.is_empty() {
                what.trim_start_matches("decoder-").to_string()
            } else {
                description.to_string()
            }
        })
    })
}

/// Whether an `image-orientation` tag (`rotate-90`, `flip-rotate-270`, ...) turns the picture a
/// quarter, so that it shows with width and height swapped.
fn turns_sideways(orientation: &str) -> bool {
    orientation.ends_with("rotate-90") || orientation.ends_with("rotate-270")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_video_decoder_is_named_and_a_missing_sound_decoder_is_not() {
        let video = "gstreamer|1.0|sightline|QQQQ video decoder|decoder-video/x-avi-unknown, fourcc=(string)QQQQ";
        let audio = "gstreamer|1.0|sightline|AC-3 decoder|decoder-audio/x-ac3";
        assert_eq!(
            missing_video_decoder(&[audio.into(), video.into()]),
            Some("QQQQ video".into())
        );
        assert_eq!(missing_video_decoder(&[audio.into()]), None);
    }

    #[test]
    fn quarter_turns_swap_the_sides() {
        for o in ["rotate-90", "rotate-270", "flip-rotate-90", "flip-rotate-270"] {
            assert!(turns_sideways(o), "{o}");
        }
        for o in ["rotate-0", "rotate-180", "flip-rotate-0", "flip-rotate-180", ""] {
            assert!(!turns_sideways(o), "{o}");
        }
    }
}
