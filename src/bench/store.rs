//! `sightline bench store`: the detection store as the API uses it, on one long synthetic video.
//!
//! Builds (or reuses) `<data>/store` holding a ready video with `--detections` detections at
//! 25 fps and about 10 per frame, then times the calls behind `GET /api/videos/{id}/detections`
//! and `GET /api/videos/{id}/stats` at random window starts, and prints the `wrk` commands that
//! time the same calls over HTTP against `sightline serve --data <data>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use sightline_actors::job::JobOptions;
use sightline_actors::store::{
    histogram, DetectionQuery, Progress, StatsAccumulator, Store, StoredDetection, VideoId, VideoRecord, VideoStatus,
};

#[derive(Args)]
pub struct StoreBenchArgs {
    /// Data folder; the store goes in its `store/` subfolder (as `sightline serve --data` expects).
    #[arg(long, default_value = ".cache/bench-store")]
    data: PathBuf,
    /// Detections in the synthetic video (about 10 per frame at 25 fps: 1,000,000 ≈ 4000 s).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    detections: u64,
    /// Timed repetitions per measurement, each at a random window start.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    reps: u32,
    /// Class the filtered query keeps.
    #[arg(long, default_value = "car")]
    class: String,
    /// Base URL used in the printed `wrk` commands.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

/// Marks the synthetic record, so a later run can find (and reuse or replace) it.
const FILENAME: &str = "bench-store-synthetic.mp4";
const FPS: u64 = 25;
const FRAME_MS: u64 = 1000 / FPS;
/// Objects on screen at once; each is detected in a frame with probability `VISIBLE`,
/// so a frame holds 10 detections on average.
const OBJECTS: usize = 11;
const VISIBLE: f32 = 0.91;
/// Frames per `insert_detections` call (10 s of video).
const BATCH_FRAMES: usize = 250;
/// The window the API's players ask for.
const WINDOW_MS: u64 = 10_000;
const PAGE_LIMIT: usize = 1000;
const HISTOGRAM_BIN_S: u64 = 10;
/// Untimed calls before each measurement, so every row is measured with a warm cache.
const WARMUP: usize = 20;

/// A (min, max) range of box sizes, normalised to the frame.
type Span = (f32, f32);

/// Class mix of a street scene: (name, share in %, box width range, box height range).
const CLASS_MIX: [(&str, u32, Span, Span); 11] = [
    ("person", 50, (0.03, 0.10), (0.12, 0.40)),
    ("car", 18, (0.08, 0.25), (0.06, 0.18)),
    ("bicycle", 5, (0.05, 0.12), (0.08, 0.20)),
    ("motorcycle", 4, (0.05, 0.12), (0.08, 0.20)),
    ("truck", 4, (0.12, 0.35), (0.10, 0.30)),
    ("backpack", 4, (0.02, 0.05), (0.03, 0.07)),
    ("handbag", 4, (0.02, 0.05), (0.02, 0.06)),
    ("dog", 3, (0.04, 0.10), (0.04, 0.10)),
    ("traffic light", 3, (0.01, 0.03), (0.03, 0.08)),
    ("chair", 3, (0.04, 0.08), (0.06, 0.12)),
    ("bus", 2, (0.20, 0.45), (0.15, 0.35)),
];

pub async fn run(args: StoreBenchArgs) -> anyhow::Result<ExitCode> {
    // Every store call is synchronous and the work is CPU-bound: keep it off the async runtime.
    tokio::task::spawn_blocking(move || run_blocking(&args))
        .await
        .context("the store benchmark panicked")?
}

fn run_blocking(args: &StoreBenchArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data).with_context(|| format!("cannot create {}", args.data.display()))?;
    let store_dir = args.data.join("store");
    let store = Store::open(&store_dir)?;
    let record = match find_existing(&store, args.detections)? {
        Some(record) => {
            println!(
                "reusing video {} in {} ({} detections, {:.0} s)",
                record.id,
                store_dir.display(),
                record.detections,
                record.duration_ms as f64 / 1000.0
            );
            record
        }
        None => {
            println!(
                "creating video with {} detections in {}",
                args.detections,
                store_dir.display()
            );
            build(&store, args.detections)?
        }
    };
    println!(
        "store on disk: {:.1} MiB; {} cores",
        dir_bytes(&store_dir) as f64 / (1024.0 * 1024.0),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let class_id = record
        .class_names
        .iter()
        .position(|n| *n == args.class)
        .with_context(|| format!("class '{}' is not among the video's classes", args.class))?;
    let class_id = u16::try_from(class_id).context("class index out of range")?;
    let id = record.id;
    let max_start_ms = record.duration_ms.saturating_sub(WINDOW_MS);
    let reps = args.reps as usize;
    let mut rng = XorShift::new(0x5eed_1e55_b0a7_f00d);
    let starts: Vec<u64> = (0..reps + WARMUP)
        .map(|_| rng.below(max_start_ms / 1000 + 1) * 1000)
        .collect();

    let window = |start_ms: u64, class_ids: Vec<u16>| DetectionQuery {
        start_ms,
        end_ms: Some(start_ms + WINDOW_MS),
        class_ids,
        limit: PAGE_LIMIT,
        ..Default::default()
    };
    let rows = [
        (
            "get_video (every API call)".to_string(),
            measure(&starts, |_| Ok(usize::from(store.get_video(id)?.is_some())))?,
        ),
        (
            format!("(a) 10 s window, limit {PAGE_LIMIT}"),
            measure(&starts, |s| {
                Ok(store.query_detections(id, &window(s, Vec::new()))?.items.len())
            })?,
        ),
        (
            format!("(b) (a) + class={}", args.class),
            measure(&starts, |s| {
                Ok(store.query_detections(id, &window(s, vec![class_id]))?.items.len())
            })?,
        ),
        (
            format!("(c) get_stats + histogram({HISTOGRAM_BIN_S} s)"),
            measure(&starts, |_| {
                let stats = store.get_stats(id)?.context("the video has no stats")?;
                Ok(histogram(&stats, HISTOGRAM_BIN_S)?.len())
            })?,
        ),
    ];

    println!();
    println!(
        "{reps} calls per row at random 10 s window starts (after {WARMUP} untimed), video {id}, {} detections",
        record.detections
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>12}",
        "store call", "mean ms", "p50 ms", "p99 ms", "items/call"
    );
    for (name, m) in &rows {
        println!(
            "{:<34} {:>10.3} {:>10.3} {:>10.3} {:>12.1}",
            name,
            mean_ms(&m.times),
            percentile_ms(&m.times, 0.50),
            percentile_ms(&m.times, 0.99),
            m.mean_items
        );
    }
    println!("(items/call: detections returned for (a)/(b), histogram bins for (c))");

    let lua = args.data.join("wrk-detections.lua");
    std::fs::write(&lua, wrk_lua(id, max_start_ms / 1000))
        .with_context(|| format!("cannot write {}", lua.display()))?;
    let url = args.url.trim_end_matches('/');
    println!();
    println!("HTTP: start the server on this data dir (it must not be open elsewhere), then run wrk:");
    println!(
        "  target/release/sightline serve --bind 127.0.0.1:8080 --data {}",
        args.data.display()
    );
    println!("  wrk -t2 -c16 -d10s --latency -s {} {url}", lua.display());
    println!("  wrk -t2 -c16 -d10s --latency '{url}/api/videos/{id}/stats?bin={HISTOGRAM_BIN_S}'");
    println!("(the Lua script asks for /api/videos/{id}/detections?start=S&end=S+10&limit={PAGE_LIMIT}, S random)");
    // One line for scripts to read.
    println!("bench-store: id={id} max_start_s={}", max_start_ms / 1000);
    Ok(ExitCode::SUCCESS)
}

/// The synthetic record, if a previous run left a complete one with this many detections.
/// An incomplete or differently sized one is deleted (it would only take space).
fn find_existing(store: &Store, detections: u64) -> anyhow::Result<Option<VideoRecord>> {
    let mut found = None;
    let mut stale = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_videos(after, 1000)?;
        for record in page.items {
            if record.filename != FILENAME {
                continue;
            }
            let complete = record.status == VideoStatus::Ready
                && record.detections == detections
                && store
                    .get_stats(record.id)?
                    .is_some_and(|s| s.total_detections == detections);
            if complete && found.is_none() {
                found = Some(record);
            } else {
                stale.push(record.id);
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    for id in stale {
        println!("deleting an earlier synthetic video {id} (incomplete or another size)");
        store.delete_video(id)?;
    }
    Ok(found)
}

fn class_names() -> Vec<String> {
    let from_file = std::fs::read_to_string(".cache/models/coco.names")
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if CLASS_MIX.iter().all(|(name, ..)| from_file.iter().any(|n| n == name)) {
        from_file
    } else {
        CLASS_MIX.iter().map(|(name, ..)| (*name).to_string()).collect()
    }
}

/// Creates the record, loads the detections frame by frame, stores the stats, marks it ready
/// and flushes.
fn build(store: &Store, detections: u64) -> anyhow::Result<VideoRecord> {
    let class_names = class_names();
    let mix: Vec<Kind> = CLASS_MIX
        .iter()
        .map(|(name, share, w, h)| Kind {
            // Present by construction of `class_names`.
            class_id: class_names.iter().position(|n| n == name).unwrap_or(0) as u16,
            share: *share,
            w: *w,
            h: *h,
        })
        .collect();
    let est_frames = detections.div_ceil(10);
    let record = store.create_video(VideoRecord {
        id: VideoId::from_u64(0),
        filename: FILENAME.into(),
        size_bytes: est_frames * 6_000,
        duration_ms: est_frames * FRAME_MS,
        fps: FPS as f64,
        width: 1280,
        height: 720,
        has_audio: false,
        model: "yolov4-tiny".into(),
        class_names,
        options: JobOptions::default(),
        status: VideoStatus::Processing,
        progress: Progress::new(0, Some(est_frames)),
        error: None,
        warnings: Vec::new(),
        detections: 0,
        created_at: 0,
        updated_at: 0,
        live: None,
    })?;
    let id = record.id;

    let began = Instant::now();
    let mut rng = XorShift::new(0x0b1e_c75e_ed5e_ed01);
    let mut objects: Vec<Object> = (0..OBJECTS).map(|_| Object::spawn(&mut rng, &mix, 0)).collect();
    let mut next_track = OBJECTS as u64;
    let mut acc = StatsAccumulator::new();
    let mut batch: Vec<StoredDetection> = Vec::with_capacity(BATCH_FRAMES * OBJECTS);
    let mut frame_dets: Vec<StoredDetection> = Vec::with_capacity(OBJECTS);
    let mut stored = 0u64;
    let mut frame = 0u64;
    let mut batch_frames = 0usize;
    while stored < detections {
        let pts_ms = frame * FRAME_MS;
        frame_dets.clear();
        for obj in &mut objects {
            if obj.frames_left == 0 {
                *obj = Object::spawn(&mut rng, &mix, next_track);
                next_track += 1;
            }
            if rng.unit() < VISIBLE && stored + (frame_dets.len() as u64) < detections {
                frame_dets.push(obj.detection(&mut rng, frame, pts_ms));
            }
            obj.step(&mut rng);
        }
        stored += frame_dets.len() as u64;
        acc.ingest(pts_ms, &frame_dets);
        batch.extend_from_slice(&frame_dets);
        frame += 1;
        batch_frames += 1;
        if batch_frames == BATCH_FRAMES || stored == detections {
            store.insert_detections(id, &batch)?;
            batch.clear();
            batch_frames = 0;
        }
    }
    let stats = acc.into_stats();
    if stats.total_detections != detections {
        bail!("generated {} detections, expected {detections}", stats.total_detections);
    }
    store.put_stats(id, &stats)?;
    let duration_ms = frame * FRAME_MS;
    let record = store.update_video(id, |r| {
        r.status = VideoStatus::Ready;
        r.detections = detections;
        r.duration_ms = duration_ms;
        r.progress = Progress::new(frame, Some(frame));
    })?;
    let loaded = began.elapsed();
    let flush_began = Instant::now();
    store.flush()?;
    let flushed = flush_began.elapsed();
    println!(
        "loaded {detections} detections ({frame} frames, {:.0} s of video, {} classes) in {:.1} s \
         ({:.0} detections/s), flush {:.2} s",
        duration_ms as f64 / 1000.0,
        stats.class_counts.len(),
        loaded.as_secs_f64(),
        detections as f64 / loaded.as_secs_f64(),
        flushed.as_secs_f64()
    );
    let share = |name: &str| {
        let cid = record.class_names.iter().position(|n| n == name).unwrap_or(0) as u16;
        100.0 * stats.class_counts.get(&cid).copied().unwrap_or(0) as f64 / detections as f64
    };
    println!(
        "class shares: person {:.1} %, car {:.1} %, bicycle {:.1} %; {} tracks",
        share("person"),
        share("car"),
        share("bicycle"),
        stats.unique_tracks.values().sum::<u64>()
    );
    Ok(record)
}

struct Kind {
    class_id: u16,
    share: u32,
    w: Span,
    h: Span,
}

/// One tracked object drifting across the frame for a few seconds.
struct Object {
    class_id: u16,
    track: u64,
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
    vx: f32,
    vy: f32,
    confidence: f32,
    frames_left: u32,
}

impl Object {
    fn spawn(rng: &mut XorShift, mix: &[Kind], track: u64) -> Self {
        let total: u32 = mix.iter().map(|k| k.share).sum();
        let mut pick = rng.below(u64::from(total)) as u32;
        let kind = mix
            .iter()
            .find(|k| {
                if pick < k.share {
                    true
                } else {
                    pick -= k.share;
                    false
                }
            })
            .unwrap_or(&mix[0]);
        let w = rng.range(kind.w.0, kind.w.1);
        let h = rng.range(kind.h.0, kind.h.1);
        Self {
            class_id: kind.class_id,
            track,
            cx: rng.range(w / 2.0, 1.0 - w / 2.0),
            cy: rng.range(h / 2.0, 1.0 - h / 2.0),
            w,
            h,
            vx: rng.range(-0.004, 0.004),
            vy: rng.range(-0.0015, 0.0015),
            // Skewed towards confident: most kept detections are clear ones.
            confidence: 0.25 + 0.75 * rng.unit().sqrt(),
            // 2 to 30 s on screen.
            frames_left: rng.below(700) as u32 + 50,
        }
    }

    fn detection(&self, rng: &mut XorShift, frame: u64, pts_ms: u64) -> StoredDetection {
        let confidence = (self.confidence + rng.range(-0.06, 0.06)).clamp(0.25, 1.0);
        StoredDetection {
            frame,
            pts_ms,
            class_id: self.class_id,
            confidence,
            bbox: [
                (self.cx - self.w / 2.0).clamp(0.0, 1.0),
                (self.cy - self.h / 2.0).clamp(0.0, 1.0),
                (self.cx + self.w / 2.0).clamp(0.0, 1.0),
                (self.cy + self.h / 2.0).clamp(0.0, 1.0),
            ],
            track_id: Some(self.track),
            predicted: false,
        }
    }

    fn step(&mut self, rng: &mut XorShift) {
        self.frames_left -= 1;
        self.vx = (self.vx + rng.range(-0.0003, 0.0003)).clamp(-0.006, 0.006);
        self.cx += self.vx;
        self.cy += self.vy;
        // Bounce off the edges rather than leave.
        if self.cx < self.w / 2.0 || self.cx > 1.0 - self.w / 2.0 {
            self.vx = -self.vx;
            self.cx = self.cx.clamp(self.w / 2.0, 1.0 - self.w / 2.0);
        }
        if self.cy < self.h / 2.0 || self.cy > 1.0 - self.h / 2.0 {
            self.vy = -self.vy;
            self.cy = self.cy.clamp(self.h / 2.0, 1.0 - self.h / 2.0);
        }
    }
}

struct Measurement {
    times: Vec<Duration>,
    mean_items: f64,
}

/// Runs `call` at each start (the first [`WARMUP`] untimed) and returns the timings and the mean
/// of what it returned.
fn measure(starts: &[u64], mut call: impl FnMut(u64) -> anyhow::Result<usize>) -> anyhow::Result<Measurement> {
    for &s in &starts[..WARMUP] {
        std::hint::black_box(call(s)?);
    }
    let mut times = Vec::with_capacity(starts.len() - WARMUP);
    let mut items = 0usize;
    for &s in &starts[WARMUP..] {
        let t = Instant::now();
        let n = std::hint::black_box(call(s)?);
        times.push(t.elapsed());
        items += n;
    }
    let mean_items = items as f64 / times.len() as f64;
    Ok(Measurement { times, mean_items })
}

fn mean_ms(times: &[Duration]) -> f64 {
    times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / times.len() as f64
}

fn percentile_ms(times: &[Duration], q: f64) -> f64 {
    let mut sorted: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Bytes of the files under `dir` (recursively).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// wrk script: each request asks for a 10 s window at a random whole second; each wrk thread
/// gets its own seed.
fn wrk_lua(id: VideoId, max_start_s: u64) -> String {
    format!(
        r#"-- written by `sightline bench store`
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads * 7919 + os.time())
end
function init(args)
  math.randomseed(seed)
end
function request()
  local s = math.random(0, {max_start_s})
  return wrk.format("GET", "/api/videos/{id}/detections?start=" .. s .. "&end=" .. (s + 10) .. "&limit={PAGE_LIMIT}")
end
"#
    )
}

/// xorshift64: plenty for picking window starts and shaping synthetic data.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is negligible here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `0..1`.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}
