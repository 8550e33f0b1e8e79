//! HLS playlist text: growing EVENT media playlists (files), sliding live ones (cameras), and the
//! master playlist.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// One finished segment of a rendition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    pub uri: String,
    pub duration: f64,
    pub bytes: u64,
    /// When its first frame was captured, Unix milliseconds (live sources: `#EXT-X-PROGRAM-DATE-TIME`).
    pub wall_ms: Option<u64>,
    /// The first segment after a gap in the source (`#EXT-X-DISCONTINUITY`).
    pub discontinuity: bool,
}

/// Where a live playlist left off: the media sequence and discontinuity sequence its next
/// segment takes. A source started again goes on from there, so a player that read the old
/// playlist never sees the numbers go back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LivePosition {
    pub segments: u64,
    pub discontinuities: u64,
}

impl LivePosition {
    /// Reads it from a live playlist's text (`None`: not a media playlist).
    pub fn after(playlist: &str) -> Option<Self> {
        let tag = |name: &str| {
            playlist
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|n| n.trim().parse::<u64>().ok())
        };
        let count = |keep: fn(&str) -> bool| playlist.lines().filter(|l| keep(l.trim())).count() as u64;
        Some(LivePosition {
            segments: tag("#EXT-X-MEDIA-SEQUENCE:")?.saturating_add(count(|l| l.starts_with("#EXTINF:"))),
            discontinuities: tag("#EXT-X-DISCONTINUITY-SEQUENCE:")
                .unwrap_or(0)
                .saturating_add(count(|l| l == "#EXT-X-DISCONTINUITY")),
        })
    }
}

/// A rendition's media playlist. A file's is of EVENT type: segments are only ever appended, so
/// a player can start while the job runs, and `ended` adds `#EXT-X-ENDLIST`. A live source's
/// slides: it lists the last `window` segments, and the media sequence counts those that left.
#[derive(Debug, Clone, Default)]
pub struct MediaPlaylist {
    /// Nominal segment duration; the target duration never goes below it, so it need not change
    /// as segments arrive (players may not accept a changing target).
    pub segment_seconds: f64,
    pub segments: Vec<Segment>,
    pub ended: bool,
    /// Live: how many segments are listed at most.
    window: Option<usize>,
    /// Segments that slid out of the window: the media sequence number of the first listed.
    removed: u64,
    /// Discontinuity tags among those (`#EXT-X-DISCONTINUITY-SEQUENCE`).
    removed_discontinuities: u64,
}

impl MediaPlaylist {
    pub fn new(segment_seconds: f64) -> Self {
        Self {
            segment_seconds,
            ..Self::default()
        }
    }

    /// A live playlist listing the last `window` segments (at least three, as players need).
    pub fn live(segment_seconds: f64, window: usize) -> Self {
        Self {
            segment_seconds,
            window: Some(window.max(3)),
            ..Self::default()
        }
    }

    /// Numbers its segments on from `position` (a live source started again).
    pub fn continuing(mut self, position: LivePosition) -> Self {
        self.removed = position.segments;
        self.removed_discontinuities = position.discontinuities;
        self
    }

    /// Appends a finished segment; returns those that slid out of a live window, oldest first.
    pub fn push(&mut self, segment: Segment) -> Vec<Segment> {
        self.segments.push(segment);
        let excess = self.window.map_or(0, |w| self.segments.len().saturating_sub(w));
        let gone: Vec<Segment> = self.segments.drain(..excess).collect();
        self.removed += gone.len() as u64;
        self.removed_discontinuities += gone.iter().filter(|s| s.discontinuity).count() as u64;
        gone
    }

    /// Segments ever pushed, listed or slid out.
    pub fn total_segments(&self) -> u64 {
        self.removed + self.segments.len() as u64
    }

    fn target_duration(&self) -> u64 {
        let longest = self
            .segments
            .iter()
            .map(|s| s.duration)
            .fold(self.segment_seconds, f64::max);
        longest.round().max(self.segment_seconds.ceil()).max(1.0) as u64
    }

    /// Peak and average bitrate in bits/s over the finished segments (`None` before any).
    pub fn bitrates(&self) -> Option<(u64, u64)> {
        let total_s: f64 = self.segments.iter().map(|s| s.duration).sum();
        if self.segments.is_empty() || total_s <= 0.0 {
            return None;
        }
        let total_bits: f64 = self.segments.iter().map(|s| s.bytes as f64 * 8.0).sum();
        // A very short tail segment would overstate the peak; judge the peak on full-ish ones.
        let peak = self
            .segments
            .iter()
            .filter(|s| s.duration >= self.segment_seconds * 0.5 || self.segments.len() == 1)
            .map(|s| s.bytes as f64 * 8.0 / s.duration.max(1e-3))
            .fold(0.0, f64::max);
        let avg = total_bits / total_s;
        Some((peak.max(avg).round() as u64, avg.round() as u64))
    }

    pub fn render(&self) -> String {
        let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
        // A live playlist has no type: segments leave it as well as join it.
        if self.window.is_none() {
            s.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n");
        }
        let _ = writeln!(s, "#EXT-X-TARGETDURATION:{}", self.target_duration());
        let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{}", self.removed);
        if self.removed_discontinuities > 0 {
            let _ = writeln!(s, "#EXT-X-DISCONTINUITY-SEQUENCE:{}", self.removed_discontinuities);
        }
        for seg in &self.segments {
            if seg.discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(ms) = seg.wall_ms {
                let _ = writeln!(s, "#EXT-X-PROGRAM-DATE-TIME:{}", iso8601_ms(ms));
            }
            let _ = writeln!(s, "#EXTINF:{:.6},\n{}", seg.duration, seg.uri);
        }
        if self.ended {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s
    }
}

/// Unix milliseconds as an ISO 8601 UTC date and time with milliseconds.
pub fn iso8601_ms(ms: u64) -> String {
    let (days, rest) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, sec, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One variant of the master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub codecs: String,
    pub frame_rate: f64,
}

/// The master playlist; with `audio`, one AAC-LC audio rendition (`audio/index.m3u8`) is every
/// variant's audio group, and counted in its bandwidth and codecs.
pub fn render_master(variants: &[Variant], audio: bool) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let (group, extra_codec, extra_bits) = if audio {
        let _ = writeln!(
            s,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"sound\",DEFAULT=YES,AUTOSELECT=YES,URI=\"{AUDIO_URI}\""
        );
        (
            format!(",AUDIO=\"{AUDIO_GROUP}\""),
            format!(",{AUDIO_CODECS}"),
            AUDIO_BANDWIDTH,
        )
    } else {
        (String::new(), String::new(), 0)
    };
    for v in variants {
        let _ = writeln!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}{extra_codec}\",FRAME-RATE={:.3}{group}\n{}",
            v.bandwidth + extra_bits,
            v.average_bandwidth + extra_bits,
            v.width,
            v.height,
            v.codecs,
            v.frame_rate,
            v.uri
        );
    }
    s
}

const AUDIO_GROUP: &str = "audio";
/// The sound's folder under a job's output folder, and its playlist there.
pub const AUDIO_DIR: &str = "audio";
pub const AUDIO_URI: &str = "audio/index.m3u8";
const AUDIO_CODECS: &str = "mp4a.40.2";
/// The sound's bits per second: the AAC-LC rate `media::audio` encodes at, and what each
/// variant's bandwidth counts for it (a copied track is rarely above it).
pub const AUDIO_BANDWIDTH: u64 = 128_000;

/// Replaces `path` atomically (write a sibling temp file, then rename), so a player polling the
/// playlist never reads half of one.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("m3u8.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(i: usize, duration: f64, bytes: u64) -> Segment {
        Segment {
            uri: format!("seg{i:05}.ts"),
            duration,
            bytes,
            ..Segment::default()
        }
    }

    #[test]
    fn live_playlist_slides_with_dates_and_discontinuities() {
        let mut p = MediaPlaylist::live(2.0, 3);
        for i in 0..3 {
            let gone = p.push(Segment {
                wall_ms: Some(1_764_654_110_000 + i as u64 * 2000),
                ..seg(i, 2.0, 10)
            });
            assert!(gone.is_empty());
        }
        let gone = p.push(Segment {
            discontinuity: true,
            wall_ms: Some(1_764_654_130_500),
            ..seg(3, 2.0, 10)
        });
        assert_eq!(gone.iter().map(|s| s.uri.as_str()).collect::<Vec<_>>(), ["seg00000.ts"]);
        let text = p.render();
        assert!(!text.contains("PLAYLIST-TYPE"));
        assert!(!text.contains("ENDLIST"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n"));
        assert!(!text.contains("seg00000.ts"));
        assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:2025-12-02T05:41:52.000Z\n#EXTINF:2.000000,\nseg00001.ts\n"));
        assert!(text.contains(
            "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-12-02T05:42:10.500Z\n#EXTINF:2.000000,\nseg00003.ts\n"
        ));
        // Once the tagged segment slides out, the discontinuity sequence counts it.
        for i in 4..7 {
            p.push(seg(i, 2.0, 10));
        }
        let text = p.render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        assert_eq!(p.total_segments(), 7);
    }

    #[test]
    fn a_live_playlist_goes_on_from_where_an_earlier_one_left_off() {
        let mut earlier = MediaPlaylist::live(2.0, 3);
        for i in 0..5 {
            earlier.push(Segment {
                discontinuity: i == 1 || i == 4,
                ..seg(i, 2.0, 10)
            });
        }
        // Listed: 2, 3, 4 (4 after a gap); slid out: 0, 1 (1 after a gap).
        let position = LivePosition::after(&earlier.render()).expect("a media playlist");
        assert_eq!(
            position,
            LivePosition {
                segments: 5,
                discontinuities: 2
            }
        );
        let mut next = MediaPlaylist::live(2.0, 3).continuing(position);
        next.push(Segment {
            discontinuity: true,
            ..seg(0, 2.0, 10)
        });
        let text = next.render();
        assert!(
            text.contains("#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n"),
            "{text}"
        );
        assert!(
            text.contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\nseg00000.ts\n"),
            "{text}"
        );
        assert_eq!(LivePosition::after("#EXTM3U\n"), None);
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
    }

    #[test]
    fn event_playlist_grows_then_ends() {
        let mut p = MediaPlaylist::new(2.0);
        assert!(!p.render().contains("#EXTINF"));
        p.segments.push(seg(0, 2.0, 1000));
        let open = p.render();
        assert!(open.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
        assert!(open.contains("#EXTINF:2.000000,\nseg00000.ts\n"));
        assert!(!open.contains("#EXT-X-ENDLIST"));
        p.segments.push(seg(1, 0.5, 100));
        p.ended = true;
        let done = p.render();
        assert!(done.starts_with(&open[..open.find("#EXTINF").unwrap_or(0)]));
        assert!(done.ends_with("seg00001.ts\n#EXT-X-ENDLIST\n"));
        assert!(done.contains("#EXT-X-TARGETDURATION:2\n"));
    }

    #[test]
    fn target_duration_covers_long_segments() {
        let mut p = MediaPlaylist::new(2.0);
        p.segments.push(seg(0, 2.6, 10));
        assert!(p.render().contains("#EXT-X-TARGETDURATION:3\n"));
    }

    #[test]
    fn bitrates_ignore_a_short_tail_for_the_peak() {
        let mut p = MediaPlaylist::new(2.0);
        assert_eq!(p.bitrates(), None);
        p.segments.push(seg(0, 2.0, 250_000)); // 1 Mbit/s
        p.segments.push(seg(1, 2.0, 125_000)); // 0.5 Mbit/s
        p.segments.push(seg(2, 0.1, 50_000)); // 4 Mbit/s but only 0.1 s
        let (peak, avg) = p.bitrates().expect("bitrates");
        assert_eq!(peak, 1_000_000);
        assert_eq!(avg, ((425_000.0 * 8.0) / 4.1f64).round() as u64);
    }

    #[test]
    fn master_lists_every_attribute() {
        let variants = [Variant {
            uri: "576p/index.m3u8".into(),
            bandwidth: 900_000,
            average_bandwidth: 700_000,
            width: 768,
            height: 576,
            codecs: "avc1.64001f".into(),
            frame_rate: 10.0,
        }];
        let m = render_master(&variants, false);
        assert!(m.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=768x576,\
             CODECS=\"avc1.64001f\",FRAME-RATE=10.000\n576p/index.m3u8\n"
        ));
        assert!(!m.contains("TYPE=AUDIO"));
        // With sound: one audio group, named by every variant, its codec and bits counted.
        let m = render_master(&variants, true);
        assert!(m.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"sound\",DEFAULT=YES,AUTOSELECT=YES,\
             URI=\"audio/index.m3u8\"\n"
        ));
        assert!(m.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=1028000,AVERAGE-BANDWIDTH=828000,RESOLUTION=768x576,\
             CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=10.000,AUDIO=\"audio\"\n576p/index.m3u8\n"
        ));
    }
}
