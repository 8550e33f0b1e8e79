//! Where a job's frames come from: the seam between the frame extractor and what it reads, an
//! uploaded file or a live source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::decoder::{DecodeError, Decoder};
use super::live_source::{LiveInput, LiveSource};
use crate::frame::Frame;

/// What a job reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A video file on this machine's disk.
    File(PathBuf),
    /// A camera or live stream, read until it is stopped.
    Live(LiveInput),
}

impl Input {
    /// Opens the input for decoding (this blocks while GStreamer starts: call it off the async
    /// threads).
    pub fn open(&self) -> Result<Box<dyn FrameSource>, DecodeError> {
        match self {
            Input::File(path) => Ok(Box::new(Decoder::open(path)?)),
            Input::Live(live) => Ok(Box::new(LiveSource::new(live.clone()))),
        }
    }

    /// The file whose sound track the output keeps.
    pub fn sound_file(&self) -> Option<&Path> {
        match self {
            Input::File(path) => Some(path),
            Input::Live(_) => None,
        }
    }

    /// The live source read, if it is one.
    pub fn live(&self) -> Option<&LiveInput> {
        match self {
            Input::File(_) => None,
            Input::Live(live) => Some(live),
        }
    }
}

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
