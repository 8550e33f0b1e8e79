//! Decoder → encoder on a real video: segments and playlists for every rendition.

use std::path::PathBuf;
use std::time::Duration;

use sightline_actors::hls::ladder;
use sightline_actors::job::Preset;
use sightline_actors::media::{Decoder, Encoder, EncoderConfig};

fn media(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/media")
        .join(name);
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

#[test]
fn bikes_becomes_a_growing_then_ended_event_playlist() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut decoder = Decoder::open(&media("bikes.mp4")).expect("opens");
    let mut encoder: Option<Encoder> = None;
    let mut saw_growing = false;
    while let Some(f) = decoder.next_frame(Duration::from_secs(20)).expect("decodes") {
        let enc = encoder.get_or_insert_with(|| {
            let config = EncoderConfig {
                out_dir: out.path().to_path_buf(),
                renditions: ladder(f.layout.width, f.layout.height, 25.0),
                segment_seconds: 2.0,
                fps: 25.0,
                preset: Preset::Veryfast,
                audio: false,
                live: None,
            };
            Encoder::start(config, f.layout).expect("encoder starts")
        });
        enc.push(f, Duration::from_secs(30)).expect("push");
        if !saw_growing && enc.playable_segments() > 0 {
            let text = std::fs::read_to_string(out.path().join("272p/index.m3u8")).expect("playlist");
            saw_growing = text.contains("#EXTINF") && !text.contains("#EXT-X-ENDLIST");
        }
    }
    let summary = encoder
        .expect("frames")
        .finish(Duration::from_secs(60))
        .expect("finishes");
    assert_eq!(summary.frames, 250);
    let listing = std::fs::read_to_string(out.path().join("272p/index.m3u8")).unwrap_or_default();
    let files: Vec<_> = std::fs::read_dir(out.path().join("272p"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert_eq!(
        summary.segments, 7,
        "10 s: 0.5, 0.5, 1, then 2 s segments:\n{listing}\n{files:?}"
    );
    assert!(saw_growing, "the playlist listed a segment before the end");
    let media_pl = std::fs::read_to_string(out.path().join("272p/index.m3u8")).expect("playlist");
    assert!(media_pl.ends_with("#EXT-X-ENDLIST\n"), "{media_pl}");
    let master = std::fs::read_to_string(out.path().join("master.m3u8")).expect("master");
    assert!(master.contains("RESOLUTION=640x272"), "{master}");
    assert!(master.contains("CODECS=\"avc1.64"), "{master}");
    println!("{master}\n{media_pl}");
}
