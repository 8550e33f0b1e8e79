//! An open input pulled one frame at a time: what the frame extractor reads, whether a file's
//! decoder or a live source is behind it.

use std::time::Duration;

use super::decoder::{DecodeError, Decoder};
use crate::frame::Frame;

/// An open input, pulled one frame at a time.
pub trait FrameSource: Send {
    /// The next frame, `None` at the end; gives up when nothing comes for `stall`.
    fn next_frame(&mut self, stall: Duration) -> Result<Option<Frame>, DecodeError>;
    /// Nanoseconds of video decoded so far, from the first frame's start to the last one's end.
    fn decoded_until(&self) -> u64;
}

impl FrameSource for Decoder {
    fn next_frame(&mut self, stall: Duration) -> Result<Option<Frame>, DecodeError> {
        Decoder::next_frame(self, stall)
    }

    fn decoded_until(&self) -> u64 {
        Decoder::decoded_until(self)
    }
}
