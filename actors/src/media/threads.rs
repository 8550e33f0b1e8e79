//! How many threads the media stages take. Detection takes about half the machine and every
//! rendition has an encoder of its own, so the stages already run side by side; threads within
//! one stage past half the cores hold pictures of their own and add CPU, not speed.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Half the cores, at least one and at most `at_most`.
pub(crate) fn half_the_cores(at_most: usize) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, at_most) as u32
}

/// Most threads per libav decoder: as for x264, each one holds pictures of its own.
const DECODER_MAX_THREADS: usize = 4;

/// Gives every libav decoder `bin` creates half the cores instead of libav's one per core and
/// one more. Measured decoding the 1280×720 sample on 2 cores (`gst-launch-1.0`, two runs each):
/// 6.4 and 6.1 CPU seconds with one thread against 8.4 and 8.1 with libav's choice, in 6.1–6.4 s
/// of wall time against 5.8–6.1; the pipeline's peak memory is some 10 MiB lower.
pub(crate) fn limit_decoder_threads(bin: &gst::Element) {
    bin.connect("deep-element-added", false, |values| {
        let element = values.get(2).and_then(|v| v.get::<gst::Element>().ok())?;
        let is_libav = element.factory().is_some_and(|f| f.name().starts_with("avdec_"));
        let takes_int = element
            .find_property("max-threads")
            .is_some_and(|p| p.value_type() == i32::static_type());
        if is_libav && takes_int {
            element.set_property("max-threads", half_the_cores(DECODER_MAX_THREADS) as i32);
        }
        None
    });
}
