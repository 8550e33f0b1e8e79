//! HlsWriter: encodes the rendered frames into adaptive HLS and hands credits back.
//!
//! The encoder is started on the first frame (its size picks the renditions), and with it, when
//! the input has sound, the audio rendition's own pipeline on a thread of its own (it runs ahead
//! of the video, at the speed of the file). Each push runs on tokio's blocking pool since it may
//! wait for the encoder; once the frame is in, its credit goes back to the extractor. At the end
//! the sound is waited for; if it failed, the master drops it and the job keeps a warning.
//!
//! Metrics: `sightline_frames_total{stage="rendered"}` per frame received from the renderer (the
//! renderer's output, counted here), `{stage="encoded"}` per frame the encoder accepted, and
//! `sightline_encode_push_seconds` per push, waiting for room in the encoder's queue included
//! (the first push's encoder start is not).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::{ExtractorMsg, StatsMsg, SupervisorMsg, WriterMsg};
use crate::hls::ladder;
use crate::hls::AUDIO_DIR;
use crate::job::options::Preset;
use crate::media::audio::{self, AudioError};
use crate::media::encoder::{EncodeError, EncodeSummary, Encoder, EncoderConfig};
use crate::media::LiveInput;
use crate::telemetry;

/// How long one frame may wait for the encoder, and the whole stream for its end, before the
/// job is failed as stalled.
const PUSH_STALL: Duration = Duration::from_secs(60);
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);
/// The sound's pipeline runs far faster than real time; it may take this plus the video's length.
const SOUND_TIMEOUT: Duration = Duration::from_secs(60);

/// The sound's thread, and the flag that stops it if the job ends first.
struct SoundJob {
    thread: JoinHandle<Result<(), AudioError>>,
    cancel: Arc<AtomicBool>,
}

pub struct WriterArgs {
    pub out_dir: PathBuf,
    pub segment_seconds: f64,
    pub fps: f64,
    pub preset: Preset,
    /// The file whose sound track to keep, and its declared length in ms; `None`: no sound.
    pub sound: Option<(PathBuf, u64)>,
    /// A live source's: sliding playlists, and figures to report.
    pub live: Option<LiveInput>,
    pub extractor: ActorRef<ExtractorMsg>,
    pub stats: ActorRef<StatsMsg>,
    pub supervisor: ActorRef<SupervisorMsg>,
}

pub struct WriterState {
    args: WriterArgs,
    encoder: Option<Encoder>,
    sound: Option<SoundJob>,
    frames: u64,
    /// Segments listed when the live figures were last told.
    listed: usize,
    rendered: Counter,
    encoded: Counter,
    push_seconds: Histogram,
}

pub struct HlsWriter;

impl Actor for HlsWriter {
    type Msg = WriterMsg;
    type State = WriterState;
    type Arguments = WriterArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: WriterArgs) -> Result<Self::State, ActorProcessingErr> {
        Ok(WriterState {
            args,
            encoder: None,
            sound: None,
            frames: 0,
            listed: 0,
            rendered: metrics::counter!(telemetry::FRAMES_TOTAL, "stage" => "rendered"),
            encoded: metrics::counter!(telemetry::FRAMES_TOTAL, "stage" => "encoded"),
            push_seconds: metrics::histogram!(telemetry::ENCODE_PUSH_SECONDS),
        })
    }

    async fn post_stop(&self, _: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        // A job that failed or was stopped before its end leaves no sound thread behind.
        if let Some(sound) = &state.sound {
            sound.cancel.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WriterMsg::Frame(frame) => {
                state.rendered.increment(1);
                let encoder = state.encoder.take();
                // A live source declares no rate: its first frame's duration gives it.
                let fps = match state.args.fps {
                    f if f > 0.0 => f,
                    _ => 1e9 / frame.duration_ns.max(1) as f64,
                };
                let config = EncoderConfig {
                    out_dir: state.args.out_dir.clone(),
                    renditions: ladder(frame.layout.width, frame.layout.height, fps),
                    segment_seconds: state.args.segment_seconds,
                    fps,
                    preset: state.args.preset,
                    audio: state.args.sound.is_some(),
                    live: state.args.live.as_ref().map(LiveInput::output),
                };
                if encoder.is_none() {
                    state.sound = start_sound(&state.args);
                    if state.args.live.is_some() {
                        let (width, height) = (frame.layout.width, frame.layout.height);
                        state
                            .args
                            .supervisor
                            .cast(SupervisorMsg::Picture { width, height, fps })?;
                    }
                }
                let push_seconds = state.push_seconds.clone();
                let encoder = tokio::task::spawn_blocking(move || {
                    let mut encoder = match encoder {
                        Some(e) => e,
                        None => Encoder::start(config, frame.layout)?,
                    };
                    let started = Instant::now();
                    encoder.push(frame, PUSH_STALL)?;
                    push_seconds.record(started.elapsed().as_secs_f64());
                    Ok::<_, EncodeError>(encoder)
                })
                .await??;
                state.encoded.increment(1);
                state.frames += 1;
                if let Some(live) = &state.args.live {
                    live.monitor.encoded();
                    let listed = encoder.playable_segments();
                    if let Some(latency) = encoder.latency().filter(|_| listed > state.listed) {
                        live.monitor.listed(latency);
                        state.listed = listed;
                    }
                }
                ractor::call!(state.args.stats, |ack| StatsMsg::Encoded {
                    frames: state.frames,
                    playable_segments: encoder.playable_segments(),
                    ack,
                })?;
                state.encoder = Some(encoder);
                // An extractor that is gone has failed (the supervisor hears its own reason) or
                // been stopped with the job: the credit has no one to go to, and that is not the
                // writer failing (it used to win the race to report, hiding the extractor's reason).
                let _ = state.args.extractor.cast(ExtractorMsg::Credit);
            }
            WriterMsg::End => {
                let encoder = state
                    .encoder
                    .take()
                    .ok_or("the video ended before any frame was encoded")?;
                let sound = state.sound.take();
                let out_dir = state.args.out_dir.clone();
                let summary = tokio::task::spawn_blocking(move || finish(encoder, sound, out_dir)).await??;
                ractor::call!(state.args.stats, |ack| StatsMsg::Encoded {
                    frames: summary.frames,
                    playable_segments: summary.segments,
                    ack,
                })?;
                state.args.supervisor.cast(SupervisorMsg::Encoded(summary))?;
            }
        }
        Ok(())
    }
}

/// Starts writing the sound's rendition, when the input has sound.
fn start_sound(args: &WriterArgs) -> Option<SoundJob> {
    let (input, duration_ms) = args.sound.clone()?;
    let (out_dir, segment_seconds) = (args.out_dir.clone(), args.segment_seconds);
    let timeout = SOUND_TIMEOUT + Duration::from_millis(duration_ms);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let spawned = std::thread::Builder::new()
        .name("sound".into())
        .spawn(move || audio::extract(&input, &out_dir, segment_seconds, timeout, &flag));
    // Without a thread there is no sound; `finish` says so.
    spawned.ok().map(|thread| SoundJob { thread, cancel })
}

/// Waits for the sound, takes it out of the master if it failed, and ends the stream.
fn finish(mut encoder: Encoder, sound: Option<SoundJob>, out_dir: PathBuf) -> Result<EncodeSummary, EncodeError> {
    let mut warnings = Vec::new();
    if encoder.has_audio() {
        let outcome = match sound {
            Some(job) => job
                .thread
                .join()
                .unwrap_or_else(|_| Err(AudioError::Stream("the sound's thread panicked".into()))),
            None => Err(AudioError::Pipeline("the sound's thread could not start".into())),
        };
        if let Err(e) = outcome {
            encoder.drop_audio()?;
            let _ = std::fs::remove_dir_all(out_dir.join(AUDIO_DIR));
            warnings.push(format!("the video was processed without its sound: {e}"));
        }
    }
    let mut summary = encoder.finish(FINISH_TIMEOUT)?;
    summary.warnings = warnings;
    Ok(summary)
}
