//! A video's rules evaluated into stored events: frame by frame while its job runs
//! ([`JobAnalysis`]), or over its stored tracked boxes, with no decoding and no detector, when
//! rules are set on a processed video or were set while its job ran. An upload's job starts its
//! results afresh ([`JobAnalysis::begin`]); a live source's run goes on with the stored ones
//! ([`JobAnalysis::resume`]), so a source started again keeps its history.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::analytics::{Analyzer, Event, Rules, Sighting};
use crate::store::{RulesRecord, Store, StoreError, VideoId, VideoStatus};
use crate::telemetry;
use crate::track::TrackerConfig;

/// One writer of rules at a time: a job's end and a user's new rules must not interleave, or
/// the older rules' events could land last.
static WRITER: Mutex<()> = Mutex::new(());

/// Sets a video's rules (validated against its class names): evaluated at once over its stored
/// tracked boxes when it is ready; otherwise kept, and evaluated when its job ends ready.
pub fn set_rules(store: &Store, id: VideoId, rules: Rules) -> Result<RulesRecord, StoreError> {
    let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    let video = store.get_video(id)?.ok_or(StoreError::NotFound(id))?;
    if video.status != VideoStatus::Ready {
        return store.replace_analytics(id, rules, None, 0);
    }
    evaluate_stored(store, id, rules, &video.class_names)
}

/// Evaluates the video's rules over its stored tracks if their results are owed: its job has
/// just ended ready, and its rules were set while it ran (or the job did not evaluate them).
/// `None` when there is nothing to do.
pub fn analyse_if_owed(store: &Store, id: VideoId) -> Result<Option<RulesRecord>, StoreError> {
    let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    let (Some(record), Some(video)) = (store.get_rules(id)?, store.get_video(id)?) else {
        return Ok(None);
    };
    if record.analysed_at.is_some() {
        return Ok(None);
    }
    evaluate_stored(store, id, record.rules, &video.class_names).map(Some)
}

/// A job's evaluation of its video's rules, fed its tracked boxes in frame order; each frame's
/// events are stored as they happen, so they can be read (and sent on) while the job runs. The
/// same boxes give the same events as an evaluation over the stored tracks afterwards.
pub struct JobAnalysis {
    store: Store,
    video: VideoId,
    generation: u32,
    analyzer: Analyzer,
    next_seq: u32,
    /// Time spent evaluating and storing, not waiting for frames.
    busy: Duration,
    /// False once the video's rules were replaced: the rest of the job adds nothing.
    current: bool,
    /// Flush the store once a frame's events are stored: a live source's events are read and
    /// sent on as they happen, and the run is never done again, so a crash must not lose them.
    /// An upload's job that crashes is run again and replaces its events anyway.
    durable: bool,
}

impl JobAnalysis {
    /// Starts new results for `rules` (the previous ones are dropped: an upload's job run again
    /// replaces what its last run found). `forget_after`: as for [`Analyzer::new`].
    pub fn begin(
        store: &Store,
        video: VideoId,
        rules: &Rules,
        names: &[String],
        forget_after: u64,
    ) -> Result<Self, StoreError> {
        let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
        let record = store.replace_analytics(video, rules.clone(), None, 0)?;
        let analyzer = Analyzer::new(rules, names, forget_after);
        Ok(Self::at(store, video, record.generation, analyzer, 0, false))
    }

    /// Goes on with the stored results of `rules` (a live source started again, after a stop, a
    /// restart or a crash, keeps its history): its new events are added to the stored ones and
    /// numbered after them, and made durable as they are stored. Starts new results as
    /// [`JobAnalysis::begin`] does when there are none, or the stored ones are of other rules.
    pub fn resume(
        store: &Store,
        video: VideoId,
        rules: &Rules,
        names: &[String],
        forget_after: u64,
    ) -> Result<Self, StoreError> {
        let reopened = {
            let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
            store.reopen_analytics(video, rules)?
        };
        let Some((record, next_seq)) = reopened else {
            let mut begun = Self::begin(store, video, rules, names, forget_after)?;
            begun.durable = true;
            return Ok(begun);
        };
        tracing::info!(%video, generation = record.generation, events = record.events, next_seq, "rules' events go on from the stored ones");
        let analyzer = Analyzer::new(rules, names, forget_after);
        Ok(Self::at(store, video, record.generation, analyzer, next_seq, true))
    }

    /// An evaluation adding to `generation`'s results from `next_seq` on.
    fn at(store: &Store, video: VideoId, generation: u32, analyzer: Analyzer, next_seq: u32, durable: bool) -> Self {
        JobAnalysis {
            store: store.clone(),
            video,
            generation,
            analyzer,
            next_seq,
            busy: Duration::ZERO,
            current: true,
            durable,
        }
    }

    /// One frame's tracked boxes: returns the events they raised, stored already. None once the
    /// video's rules were replaced while the job ran: the new ones are evaluated when it ends.
    pub fn observe(&mut self, sightings: &[Sighting]) -> Result<Vec<Event>, StoreError> {
        if !self.current {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let mut events = Vec::new();
        for s in sightings {
            self.analyzer.observe(s, &mut events);
        }
        if !events.is_empty() {
            {
                let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
                let stored = self
                    .store
                    .append_events(self.video, self.generation, self.next_seq, &events)?;
                self.current = stored.is_some();
            }
            if !self.current {
                events.clear();
            } else if self.durable {
                self.store.flush()?;
            }
            self.next_seq = self.next_seq.saturating_add(events.len() as u32);
            count_events(&events);
        }
        self.busy += started.elapsed();
        Ok(events)
    }

    /// Every frame has been seen: the results are complete. `None` when the rules were replaced
    /// while the job ran.
    pub fn finish(self) -> Result<Option<RulesRecord>, StoreError> {
        let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
        let took_ms = self.busy.as_millis() as u64;
        let record = self.store.complete_analytics(self.video, self.generation, took_ms)?;
        if let Some(r) = &record {
            tracing::info!(
                video = %self.video,
                tracks = self.analyzer.tracks(),
                events = r.events,
                took_ms,
                "rules evaluated while the job ran"
            );
        }
        Ok(record)
    }
}

fn count_events(events: &[Event]) {
    for e in events {
        metrics::counter!(telemetry::ANALYTICS_EVENTS_TOTAL, "kind" => e.kind.as_str()).increment(1);
    }
}

fn evaluate_stored(store: &Store, id: VideoId, rules: Rules, names: &[String]) -> Result<RulesRecord, StoreError> {
    let started = Instant::now();
    // Jobs track with the default settings (a job's tracker settings are not stored).
    let mut analyzer = Analyzer::new(&rules, names, TrackerConfig::default().gone_after());
    let mut events: Vec<Event> = Vec::new();
    let mut boxes = 0u64;
    // Stored in time order, which is frame order: what the analyzer needs.
    for d in store.detections_iter(id) {
        let d = d?;
        let Some(track_id) = d.track_id else {
            continue;
        };
        boxes += 1;
        let sighting = Sighting {
            frame: d.frame,
            time_ms: d.pts_ms,
            track_id,
            class_id: d.class_id,
            bbox: d.bbox,
            predicted: d.predicted,
        };
        analyzer.observe(&sighting, &mut events);
    }
    events.sort_by_key(|e| (e.time_ms, e.frame));
    count_events(&events);
    let took_ms = started.elapsed().as_millis() as u64;
    let record = store.replace_analytics(id, rules, Some(&events), took_ms)?;
    tracing::info!(
        video = %id,
        boxes,
        tracks = analyzer.tracks(),
        events = events.len(),
        took_ms,
        "rules evaluated over stored tracks"
    );
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::fixtures::line;
    use crate::store::tests::temp_store_with_video;
    use crate::store::StoredDetection;

    /// A door across the middle of the picture; walking down it is `in`.
    fn door() -> Rules {
        Rules {
            lines: vec![line("door", [0.1, 0.5], [0.9, 0.5])],
            ..Rules::default()
        }
    }

    /// Frame by frame, the tracked boxes of two people: #1 walks down through the door over
    /// frames 0..20, #2 walks up through it over frames 20..40.
    fn frames() -> Vec<Vec<Sighting>> {
        (0..40u64)
            .map(|f| {
                let (track_id, t) = if f < 20 { (1, f) } else { (2, 39 - f) };
                let y = 0.3 + 0.4 * t as f32 / 19.0;
                vec![Sighting {
                    frame: f,
                    time_ms: f * 40,
                    track_id,
                    class_id: 0,
                    bbox: [0.45, y - 0.2, 0.55, y],
                    predicted: false,
                }]
            })
            .collect()
    }

    /// Stores one frame's boxes as the job's stats aggregator does.
    fn store_frame(store: &Store, id: VideoId, sightings: &[Sighting]) {
        let stored: Vec<StoredDetection> = sightings
            .iter()
            .map(|s| StoredDetection {
                frame: s.frame,
                pts_ms: s.time_ms,
                class_id: s.class_id,
                confidence: 0.9,
                bbox: s.bbox,
                track_id: Some(s.track_id),
                predicted: s.predicted,
            })
            .collect();
        store.insert_detections(id, &stored).expect("stored");
    }

    fn mark_ready(store: &Store, id: VideoId) {
        store
            .update_video(id, |v| v.status = VideoStatus::Ready)
            .expect("ready");
    }

    #[test]
    fn a_job_stores_each_event_as_it_happens_and_the_same_as_the_stored_tracks_give() {
        let (_dir, store, id) = temp_store_with_video();
        let names = store.get_video(id).expect("read").expect("video").class_names;
        let mut job =
            JobAnalysis::begin(&store, id, &door(), &names, TrackerConfig::default().gone_after()).expect("begun");
        let mut raised = Vec::new();
        for (f, sightings) in frames().iter().enumerate() {
            store_frame(&store, id, sightings);
            let events = job.observe(sightings).expect("observed");
            raised.extend(events);
            // Readable as soon as raised, before the job ends.
            assert_eq!(store.all_events(id).expect("read"), raised, "frame {f}");
        }
        let directions: Vec<_> = raised.iter().filter_map(|e| e.direction.as_deref()).collect();
        assert_eq!(directions, ["in", "out"]);
        let pending = store.get_rules(id).expect("read").expect("rules");
        assert_eq!((pending.analysed_at, pending.events), (None, 2));

        let record = job.finish().expect("finished").expect("still current");
        assert!(record.analysed_at.is_some());
        assert_eq!(analyse_if_owed(&store, id).expect("checked"), None, "nothing owed");

        // The same rules later, over the stored tracks: the same events.
        mark_ready(&store, id);
        set_rules(&store, id, door()).expect("evaluated");
        assert_eq!(store.all_events(id).expect("read"), raised);
    }

    #[test]
    fn a_resumed_run_keeps_the_stored_events_and_a_begun_one_replaces_them() {
        let (_dir, store, id) = temp_store_with_video();
        let names = store.get_video(id).expect("read").expect("video").class_names;
        let gone_after = TrackerConfig::default().gone_after();
        let frames = frames();
        let run = |job: &mut JobAnalysis, frames: &[Vec<Sighting>]| {
            for sightings in frames {
                store_frame(&store, id, sightings);
                job.observe(sightings).expect("observed");
            }
        };
        // No results yet: resuming begins.
        let mut first = JobAnalysis::resume(&store, id, &door(), &names, gone_after).expect("begun");
        run(&mut first, &frames[..20]);
        let stored = store.all_events(id).expect("read");
        assert_eq!(stored.len(), 1, "#1 went in");
        // The run dies without finishing (a crash); the next one takes up where it was.
        drop(first);
        let mut second = JobAnalysis::resume(&store, id, &door(), &names, gone_after).expect("resumed");
        run(&mut second, &frames[20..]);
        second.finish().expect("finished").expect("current");
        let all = store.all_events(id).expect("read");
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0], stored[0], "the first run's event stays");
        let record = store.get_rules(id).expect("read").expect("rules");
        assert_eq!((record.generation, record.events), (1, 2));

        // An upload's job run again starts afresh.
        let begun = JobAnalysis::begin(&store, id, &door(), &names, gone_after).expect("begun");
        assert!(store.all_events(id).expect("read").is_empty());
        assert_eq!(begun.finish().expect("finished").map(|r| r.generation), Some(2));
    }

    #[test]
    fn rules_replaced_while_the_job_runs_are_evaluated_when_it_ends() {
        let (_dir, store, id) = temp_store_with_video();
        let names = store.get_video(id).expect("read").expect("video").class_names;
        let mut job =
            JobAnalysis::begin(&store, id, &door(), &names, TrackerConfig::default().gone_after()).expect("begun");
        let frames = frames();
        for sightings in &frames[..20] {
            store_frame(&store, id, sightings);
            job.observe(sightings).expect("observed");
        }
        // Rules with the directions the other way round, set while the job runs.
        let mut turned = door();
        turned.lines[0].from = [0.9, 0.5];
        turned.lines[0].to = [0.1, 0.5];
        set_rules(&store, id, turned).expect("kept for later");
        for sightings in &frames[20..] {
            store_frame(&store, id, sightings);
            assert!(job.observe(sightings).expect("observed").is_empty(), "old rules raised");
        }
        assert_eq!(job.finish().expect("finished"), None, "the old rules completed");
        assert!(store.all_events(id).expect("read").is_empty());

        mark_ready(&store, id);
        let record = analyse_if_owed(&store, id).expect("evaluated").expect("owed");
        assert_eq!(record.events, 2);
        let directions: Vec<_> = store
            .all_events(id)
            .expect("read")
            .into_iter()
            .filter_map(|e| e.direction)
            .collect();
        assert_eq!(directions, ["out", "in"], "the new rules' directions");
        assert_eq!(analyse_if_owed(&store, id).expect("checked"), None);
    }
}
