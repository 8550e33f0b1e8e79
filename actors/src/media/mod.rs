//! GStreamer glue: probing an upload, decoding it (or a live source) into frames, encoding frames
//! into HLS.

pub mod audio;
pub mod decoder;
pub mod element;
pub mod encoder;
pub mod frame_source;
pub mod limits;
pub mod live_source;
pub mod probe;
pub mod source;
mod threads;
mod video_stream;

pub use audio::AudioError;
pub use decoder::{DecodeError, Decoder};
pub use encoder::{EncodeError, EncodeSummary, Encoder, EncoderConfig};
pub use frame_source::FrameSource;
pub use limits::{InputLimits, LimitError};
pub use live_source::{LiveInput, LiveSource};
pub use probe::{probe, ProbeError, VideoProbe};
pub use source::Input;
