//! Taking the one video stream out of a `decodebin` (or `uridecodebin`): sound is never decoded
//! (an upload's has a pipeline of its own, a live source's is not kept), so a broken sound track
//! cannot stop the video and no time goes into decoding what is thrown away; the first video pad
//! goes to the caller's sink, and every other stream (subtitles, a second video) is consumed by a
//! fakesink so it cannot stall the pipeline.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Wires `decodebin` (already in `pipeline`) as the module comment says, its video to `video_sink`.
pub(crate) fn take_video(decodebin: &gst::Element, pipeline: &gst::Pipeline, video_sink: gst::Pad) {
    decodebin.connect("autoplug-continue", false, |values| {
        let caps = values.get(2).and_then(|v| v.get::<gst::Caps>().ok());
        let audio = caps
            .as_ref()
            .and_then(|c| c.structure(0))
            .is_some_and(|s| s.name().starts_with("audio/"));
        Some((!audio).to_value())
    });
    let pipeline_weak = pipeline.downgrade();
    decodebin.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video && !video_sink.is_linked() {
            if let Err(e) = pad.link(&video_sink) {
                tracing::warn!("could not link the video stream: {e:?}");
            }
            return;
        }
        let Some(pipeline) = pipeline_weak.upgrade() else {
            return;
        };
        let Ok(sink) = gst::ElementFactory::make("fakesink").property("sync", false).build() else {
            return;
        };
        if pipeline.add(&sink).is_ok() {
            let _ = sink.sync_state_with_parent();
            if let Some(sink_pad) = sink.static_pad("sink") {
                let _ = pad.link(&sink_pad);
            }
        }
    });
}
