//! Where a job's frames come from: the seam between the frame extractor and what it reads, an
//! uploaded file or a live source.

use std::path::{Path, PathBuf};

use super::decoder::{DecodeError, Decoder};
use super::frame_source::FrameSource;
use super::live_source::{LiveInput, LiveSource};

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
