//! Analytics: evaluates the video's zones and lines while its job runs, fed the tracked boxes of
//! each frame by the renderer in frame order. Events are stored as they happen and handed to the
//! event sink (webhooks, MQTT), so they reach their receivers while the video is still processing.
//!
//! The renderer waits for each frame's answer, so this mailbox never holds more than one frame.
//! A live source's run goes on with the events its earlier runs stored; an upload's starts anew.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::AnalyticsMsg;
use crate::analytics::Rules;
use crate::job::{EventSink, JobAnalysis};
use crate::store::{Store, StoreError, VideoId, VideoRecord};

pub struct AnalyticsArgs {
    pub store: Store,
    pub video: VideoId,
    pub rules: Rules,
    /// Frames after which an unseen track is forgotten (`TrackerConfig::gone_after`).
    pub forget_after: u64,
    pub sink: Option<Arc<dyn EventSink>>,
}

pub struct AnalyticsState {
    /// `None` once finished.
    analysis: Option<JobAnalysis>,
    video: VideoRecord,
    sink: Option<Arc<dyn EventSink>>,
}

pub struct Analytics;

impl Actor for Analytics {
    type Msg = AnalyticsMsg;
    type State = AnalyticsState;
    type Arguments = AnalyticsArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: AnalyticsArgs) -> Result<Self::State, ActorProcessingErr> {
        let video = args
            .store
            .get_video(args.video)?
            .ok_or(StoreError::NotFound(args.video))?;
        // A live source started again keeps the events of its earlier runs; an upload's job run
        // again replaces them with its own.
        let start = match video.live {
            Some(_) => JobAnalysis::resume,
            None => JobAnalysis::begin,
        };
        let analysis = start(
            &args.store,
            args.video,
            &args.rules,
            &video.class_names,
            args.forget_after,
        )?;
        Ok(AnalyticsState {
            analysis: Some(analysis),
            video,
            sink: args.sink,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AnalyticsMsg::Frame { sightings, ack } => {
                if let Some(analysis) = &mut state.analysis {
                    let events = analysis.observe(&sightings)?;
                    if let (Some(sink), false) = (&state.sink, events.is_empty()) {
                        sink.raised(&state.video, &events);
                    }
                }
                let _ = ack.send(());
            }
            AnalyticsMsg::Finish(reply) => {
                let finished = match state.analysis.take() {
                    Some(analysis) => analysis.finish().map_err(|e| e.to_string()),
                    None => Err("finished twice".to_string()),
                };
                if let (Some(sink), Ok(Some(record))) = (&state.sink, &finished) {
                    sink.analysed(&state.video, record);
                }
                let _ = reply.send(finished.map(|_| ()));
            }
        }
        Ok(())
    }
}
