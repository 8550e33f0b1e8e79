//! FrameExtractor: decodes the job's video and emits frames downstream, one per credit.
//!
//! The extractor starts with a window of credits and spends one per frame; the HlsWriter hands a
//! credit back when it has passed a frame to the encoder. So at most `window` frames are ever in
//! flight between the two, whatever the video's length.
//!
//! Metrics: `sightline_frames_total{stage="decoded"}` and `sightline_decode_seconds` per frame
//! pulled, and `sightline_frames_in_flight` (window - credits, summed over the jobs running).

use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::{ExtractorMsg, PoolMsg};
use crate::media::{FrameSource, Input};
use crate::telemetry;

/// How long the decoder may produce nothing before the job is failed as stalled.
const STALL: Duration = Duration::from_secs(30);

pub struct FrameExtractor;

pub struct ExtractorArgs {
    pub input: Input,
    pub window: usize,
    /// Duration the container declares (0: unknown). A stream that ends well short of it is a
    /// truncated file, which demuxers often report as a quiet end of stream.
    pub declared_ms: u64,
}

pub struct ExtractorState {
    /// Taken while a frame is decoded on the blocking pool; dropped at the end of the input.
    source: Option<Box<dyn FrameSource>>,
    declared_ms: u64,
    pool: Option<ActorRef<PoolMsg>>,
    credits: usize,
    /// A Pull message is queued or running; avoids piling up Pulls when credits arrive quickly.
    pulling: bool,
    done: bool,
    in_flight: InFlight,
    decoded: Counter,
    decode_seconds: Histogram,
}

/// This job's share of the process-wide `sightline_frames_in_flight` gauge. Several jobs share
/// the gauge, so each only adds and removes its own frames, and gives back what it still holds
/// when it goes away: dropped with the actor's state, which happens however the actor ends
/// (stopped, failed, killed), unlike `post_stop`, which a failed `handle` skips.
struct InFlight {
    gauge: Gauge,
    frames: usize,
}

impl InFlight {
    fn new() -> Self {
        InFlight {
            gauge: metrics::gauge!(telemetry::FRAMES_IN_FLIGHT),
            frames: 0,
        }
    }

    fn enter(&mut self) {
        self.frames += 1;
        self.gauge.increment(1.0);
    }

    fn leave(&mut self) {
        if self.frames > 0 {
            self.frames -= 1;
            self.gauge.decrement(1.0);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.frames > 0 {
            self.gauge.decrement(self.frames as f64);
        }
    }
}

impl Actor for FrameExtractor {
    type Msg = ExtractorMsg;
    type State = ExtractorState;
    type Arguments = ExtractorArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: ExtractorArgs) -> Result<Self::State, ActorProcessingErr> {
        let input = args.input.clone();
        let source = tokio::task::spawn_blocking(move || input.open()).await??;
        Ok(ExtractorState {
            source: Some(source),
            declared_ms: args.declared_ms,
            pool: None,
            credits: args.window.max(1),
            pulling: false,
            done: false,
            in_flight: InFlight::new(),
            decoded: metrics::counter!(telemetry::FRAMES_TOTAL, "stage" => "decoded"),
            decode_seconds: metrics::histogram!(telemetry::DECODE_SECONDS),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ExtractorMsg::Start { pool } => {
                state.pool = Some(pool);
                schedule_pull(&myself, state)?;
            }
            ExtractorMsg::Credit => {
                state.credits += 1;
                state.in_flight.leave();
                schedule_pull(&myself, state)?;
            }
            ExtractorMsg::Pull => {
                state.pulling = false;
                if state.done || state.credits == 0 {
                    return Ok(());
                }
                let pool = state
                    .pool
                    .clone()
                    .ok_or("frame extractor pulled before it was started")?;
                let mut source = state.source.take().ok_or("frame source lost")?;
                let (source, next, took) = tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let next = source.next_frame(STALL);
                    (source, next, started.elapsed())
                })
                .await?;
                state.source = Some(source);
                match next? {
                    Some(frame) => {
                        state.decode_seconds.record(took.as_secs_f64());
                        state.decoded.increment(1);
                        state.credits -= 1;
                        state.in_flight.enter();
                        pool.cast(PoolMsg::Frame(frame))?;
                        schedule_pull(&myself, state)?;
                    }
                    None => {
                        check_complete(state)?;
                        state.done = true;
                        // Release the decoder's resources now rather than at job end.
                        state.source = None;
                        pool.cast(PoolMsg::End)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Fails a stream that ended more than a second and 10% short of its declared duration.
fn check_complete(state: &ExtractorState) -> Result<(), ActorProcessingErr> {
    let decoded_ms = state.source.as_ref().map_or(0, |d| d.decoded_until() / 1_000_000);
    let declared = state.declared_ms;
    if declared > 0 && decoded_ms + 1000 < declared && (decoded_ms as f64) < declared as f64 * 0.9 {
        return Err(format!(
            "the video ends after {:.1} s of the {:.1} s its container declares: the file is truncated",
            decoded_ms as f64 / 1000.0,
            declared as f64 / 1000.0
        )
        .into());
    }
    Ok(())
}

fn schedule_pull(myself: &ActorRef<ExtractorMsg>, state: &mut ExtractorState) -> Result<(), ActorProcessingErr> {
    if !state.pulling && state.credits > 0 && !state.done && state.pool.is_some() {
        state.pulling = true;
        myself.cast(ExtractorMsg::Pull)?;
    }
    Ok(())
}
