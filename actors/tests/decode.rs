//! The GStreamer decoder on the real sample videos and on broken input.

use std::path::PathBuf;
use std::time::Duration;

use sightline_actors::media::{DecodeError, Decoder};

fn media(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/media")
        .join(name);
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

fn decode_all(path: &std::path::Path) -> Result<Vec<(u64, u64, u32, u32)>, DecodeError> {
    let mut d = Decoder::open(path)?;
    let mut out = Vec::new();
    while let Some(f) = d.next_frame(Duration::from_secs(20))? {
        assert_eq!(f.data.len(), f.layout.len());
        out.push((f.index, f.pts_ns, f.layout.width, f.layout.height));
    }
    Ok(out)
}

#[test]
fn bikes_decodes_every_frame_with_rebased_timestamps() {
    let frames = decode_all(&media("bikes.mp4")).expect("decodes");
    assert_eq!(frames.len(), 250, "10 s at 25 fps");
    assert_eq!(frames[0].1, 0);
    assert_eq!((frames[0].2, frames[0].3), (640, 272));
    assert!(frames.windows(2).all(|w| w[1].1 > w[0].1), "timestamps increase");
    assert_eq!(frames.last().map(|f| f.0), Some(249));
}

#[test]
fn vtest_decodes_at_its_size() {
    let mut d = Decoder::open(&media("vtest.avi")).expect("opens");
    let f = d
        .next_frame(Duration::from_secs(20))
        .expect("decodes")
        .expect("a frame");
    assert_eq!((f.layout.width, f.layout.height), (768, 576));
}

#[test]
fn a_file_that_is_not_a_video_fails_with_a_message() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = decode_all(&path).expect_err("not a video");
    assert!(matches!(err, DecodeError::Stream(_)), "{err}");
}

#[test]
fn a_missing_file_fails_with_a_message() {
    let err = decode_all(std::path::Path::new("/nonexistent.mp4")).expect_err("missing");
    assert!(err.to_string().contains("decoding failed"), "{err}");
}
