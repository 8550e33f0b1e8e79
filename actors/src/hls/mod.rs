//! Adaptive HLS output: the pure parts (rendition ladder, segment boundaries, playlists, codec
//! strings) that the HlsWriter actor drives.

pub mod codecs;
pub mod ladder;
pub mod playlist;
pub mod segment_clock;

pub use codecs::avc1_from_annexb;
pub use ladder::{ladder, Rendition};
pub use playlist::{
    render_master, write_atomic, LivePosition, MediaPlaylist, Segment, Variant, AUDIO_BANDWIDTH, AUDIO_DIR, AUDIO_URI,
};
pub use segment_clock::SegmentClock;
