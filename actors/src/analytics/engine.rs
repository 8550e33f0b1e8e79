//! Rules evaluated over tracked boxes in frame order: line crossings, zone entries and exits,
//! dwell. Pure: the same boxes give the same events, whether they come from a running job or from
//! the store.
//!
//! What trackers really do is taken into account:
//! - an anchor must hold a side of a line (or stay in or out of a zone) for `hysteresis_frames`
//!   frames before that counts, so a track jittering on a line is counted once or not at all;
//! - a crossing counts once per track and direction, and a track lost for a while that comes back
//!   under its id keeps its state, so it never counts twice;
//! - boxes the tracker predicted between detections count like detected ones, but a track is only
//!   followed from its first detected box, so one that is only ever predicted never counts;
//! - a track unseen for longer than the tracker keeps lost tracks is forgotten (the tracker never
//!   reuses an id), so memory follows the tracks on screen, not the length of the video.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::geometry::{self, Point};
use super::rules::{Anchor, Rules};

/// One tracked box, as the analytics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sighting {
    pub frame: u64,
    pub time_ms: u64,
    pub track_id: u64,
    pub class_id: u16,
    /// `[x1, y1, x2, y2]`, normalised to the upright picture.
    pub bbox: [f32; 4],
    pub predicted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    LineCrossed,
    ZoneEntered,
    ZoneLeft,
    DwellExceeded,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::LineCrossed,
        EventKind::ZoneEntered,
        EventKind::ZoneLeft,
        EventKind::DwellExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LineCrossed => "line_crossed",
            EventKind::ZoneEntered => "zone_entered",
            EventKind::ZoneLeft => "zone_left",
            EventKind::DwellExceeded => "dwell_exceeded",
        }
    }
}

/// Something a rule saw happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// The rule's name.
    pub rule: String,
    pub track_id: u64,
    pub class_id: u16,
    /// When it happened: the first frame on the new side, in or out.
    pub frame: u64,
    pub time_ms: u64,
    /// The anchor then.
    pub position: Point,
    /// A crossing's direction, by the line's names for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Time inside the zone: at exit, or when `min_dwell_s` was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_ms: Option<u64>,
}

/// The first frame of a run of frames on one side, and how long the run is.
#[derive(Debug, Clone, Copy)]
struct Run<S> {
    state: S,
    frames: u32,
    frame: u64,
    time_ms: u64,
    position: Point,
}

/// A state that changes only once it has held for `k` frames in a row.
#[derive(Debug, Clone, Copy)]
struct Hysteresis<S> {
    confirmed: Option<S>,
    run: Option<Run<S>>,
}

impl<S: Copy + PartialEq> Hysteresis<S> {
    const NEW: Self = Hysteresis {
        confirmed: None,
        run: None,
    };

    /// Takes one observation; returns the run that just became the confirmed state, with the
    /// state it replaced.
    fn observe(&mut self, k: u32, s: &Sighting, state: S, position: Point) -> Option<(Option<S>, Run<S>)> {
        let run = match self.run {
            Some(mut r) if r.state == state => {
                r.frames += 1;
                r
            }
            _ => Run {
                state,
                frames: 1,
                frame: s.frame,
                time_ms: s.time_ms,
                position,
            },
        };
        self.run = Some(run);
        if run.frames >= k && self.confirmed != Some(state) {
            let before = self.confirmed.replace(state);
            return Some((before, run));
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

#[derive(Debug, Clone, Copy)]
struct LineState {
    side: Hysteresis<Side>,
    /// Counted already: [positive, negative].
    counted: [bool; 2],
}

#[derive(Debug, Clone, Copy)]
struct ZoneState {
    inside: Hysteresis<bool>,
    entered_ms: Option<u64>,
    dwell_reported: bool,
}

#[derive(Debug, Clone)]
struct TrackState {
    /// The last frame with a box of this track.
    last_frame: u64,
    lines: Vec<LineState>,
    zones: Vec<ZoneState>,
}

struct LineRule {
    name: String,
    from: Point,
    to: Point,
    directions: [String; 2],
    classes: Option<Vec<u16>>,
    anchor: Anchor,
}

struct ZoneRule {
    name: String,
    polygon: Vec<Point>,
    classes: Option<Vec<u16>>,
    min_dwell_ms: Option<u64>,
    anchor: Anchor,
}

fn class_ids(classes: &[String], names: &[String]) -> Option<Vec<u16>> {
    (!classes.is_empty()).then(|| {
        classes
            .iter()
            .filter_map(|c| names.iter().position(|n| n == c))
            .map(|i| i as u16)
            .collect()
    })
}

fn applies(classes: &Option<Vec<u16>>, class_id: u16) -> bool {
    classes.as_ref().is_none_or(|c| c.contains(&class_id))
}

/// Evaluates one video's rules over its tracked boxes, fed in frame order.
pub struct Analyzer {
    lines: Vec<LineRule>,
    zones: Vec<ZoneRule>,
    k: u32,
    tracks: HashMap<u64, TrackState>,
    /// Frames a track may go unseen before it is forgotten.
    forget_after: u64,
    /// The frame from which the next sweep for forgotten tracks runs.
    next_sweep: u64,
}

impl Analyzer {
    /// `rules` must have passed `validate` against the same `names`. A track unseen for more than
    /// `forget_after` frames is forgotten: at least the tracker's `max_age`, after which the
    /// tracker has dropped it for good.
    pub fn new(rules: &Rules, names: &[String], forget_after: u64) -> Self {
        Analyzer {
            lines: rules
                .lines
                .iter()
                .map(|l| LineRule {
                    name: l.name.clone(),
                    from: l.from,
                    to: l.to,
                    directions: [l.positive.clone(), l.negative.clone()],
                    classes: class_ids(&l.classes, names),
                    anchor: l.anchor,
                })
                .collect(),
            zones: rules
                .zones
                .iter()
                .map(|z| ZoneRule {
                    name: z.name.clone(),
                    polygon: z.polygon.clone(),
                    classes: class_ids(&z.classes, names),
                    min_dwell_ms: z.min_dwell_s.map(|s| (s * 1000.0).round() as u64),
                    anchor: z.anchor,
                })
                .collect(),
            k: rules.hysteresis_frames.max(1),
            tracks: HashMap::new(),
            forget_after,
            next_sweep: 0,
        }
    }

    /// Drops tracks unseen for more than `forget_after` frames, once per `forget_after` frames,
    /// so each track is looked at a bounded number of times.
    fn sweep(&mut self, frame: u64) {
        if frame < self.next_sweep {
            return;
        }
        let oldest_kept = frame.saturating_sub(self.forget_after);
        self.tracks.retain(|_, t| t.last_frame >= oldest_kept);
        self.next_sweep = frame.saturating_add(self.forget_after.max(1));
    }

    /// Tracks followed so far.
    pub fn tracks(&self) -> usize {
        self.tracks.len()
    }

    /// One tracked box; appends what it made happen to `out`.
    pub fn observe(&mut self, s: &Sighting, out: &mut Vec<Event>) {
        self.sweep(s.frame);
        let (lines, zones) = (self.lines.len(), self.zones.len());
        // Followed from its first detected box only.
        if s.predicted && !self.tracks.contains_key(&s.track_id) {
            return;
        }
        let track = self.tracks.entry(s.track_id).or_insert_with(|| TrackState {
            last_frame: s.frame,
            lines: vec![
                LineState {
                    side: Hysteresis::NEW,
                    counted: [false; 2],
                };
                lines
            ],
            zones: vec![
                ZoneState {
                    inside: Hysteresis::NEW,
                    entered_ms: None,
                    dwell_reported: false,
                };
                zones
            ],
        });
        track.last_frame = s.frame;
        let event = |kind, rule: &str, run_frame, time_ms, position| Event {
            kind,
            rule: rule.to_string(),
            track_id: s.track_id,
            class_id: s.class_id,
            frame: run_frame,
            time_ms,
            position,
            direction: None,
            dwell_ms: None,
        };
        for (rule, state) in self.lines.iter().zip(track.lines.iter_mut()) {
            if !applies(&rule.classes, s.class_id) {
                continue;
            }
            let p = rule.anchor.of(s.bbox);
            // Beside the segment's ends the side says nothing about crossing it.
            if !(0.0..=1.0).contains(&geometry::along(rule.from, rule.to, p)) {
                continue;
            }
            let c = geometry::cross(rule.from, rule.to, p);
            if c == 0.0 {
                continue;
            }
            let side = if c > 0.0 { Side::Right } else { Side::Left };
            if let Some((Some(before), run)) = state.side.observe(self.k, s, side, p) {
                let dir = usize::from(before != Side::Left);
                if !state.counted[dir] {
                    state.counted[dir] = true;
                    out.push(Event {
                        direction: Some(rule.directions[dir].clone()),
                        ..event(EventKind::LineCrossed, &rule.name, run.frame, run.time_ms, run.position)
                    });
                }
            }
        }
        for (rule, state) in self.zones.iter().zip(track.zones.iter_mut()) {
            if !applies(&rule.classes, s.class_id) {
                continue;
            }
            let p = rule.anchor.of(s.bbox);
            let now_inside = geometry::inside(&rule.polygon, p);
            match state.inside.observe(self.k, s, now_inside, p) {
                Some((_, run)) if run.state => {
                    state.entered_ms = Some(run.time_ms);
                    state.dwell_reported = false;
                    out.push(event(
                        EventKind::ZoneEntered,
                        &rule.name,
                        run.frame,
                        run.time_ms,
                        run.position,
                    ));
                }
                Some((Some(true), run)) => {
                    let dwell = state.entered_ms.take().map(|t| run.time_ms.saturating_sub(t));
                    out.push(Event {
                        dwell_ms: dwell,
                        ..event(EventKind::ZoneLeft, &rule.name, run.frame, run.time_ms, run.position)
                    });
                }
                _ => {}
            }
            if let (Some(entered), Some(min), false) = (state.entered_ms, rule.min_dwell_ms, state.dwell_reported) {
                let dwell = s.time_ms.saturating_sub(entered);
                if state.inside.confirmed == Some(true) && dwell >= min {
                    state.dwell_reported = true;
                    out.push(Event {
                        dwell_ms: Some(dwell),
                        ..event(EventKind::DwellExceeded, &rule.name, s.frame, s.time_ms, p)
                    });
                }
            }
        }
    }
}

/// Every event of a video's tracked boxes, in the order they happened; no track is forgotten.
pub fn evaluate(rules: &Rules, names: &[String], sightings: impl IntoIterator<Item = Sighting>) -> Vec<Event> {
    let mut analyzer = Analyzer::new(rules, names, u64::MAX);
    let mut out = Vec::new();
    for s in sightings {
        analyzer.observe(&s, &mut out);
    }
    out.sort_by_key(|e| (e.time_ms, e.frame));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::rules::fixtures::{line, zone};
    use crate::analytics::rules::Zone;

    const FPS_MS: u64 = 40;

    fn names() -> Vec<String> {
        vec!["person".into(), "car".into()]
    }

    /// A horizontal line across the middle: walking down the picture is `in`.
    fn door() -> Rules {
        Rules {
            lines: vec![line("door", [0.1, 0.5], [0.9, 0.5])],
            ..Rules::default()
        }
    }

    /// A track whose box bottom is at each of `ys` in turn (`None`: lost that frame).
    fn walk(track: u64, ys: &[Option<f32>], predicted: impl Fn(usize) -> bool) -> Vec<Sighting> {
        ys.iter()
            .enumerate()
            .filter_map(|(i, y)| {
                y.map(|y| Sighting {
                    frame: i as u64,
                    time_ms: i as u64 * FPS_MS,
                    track_id: track,
                    class_id: 0,
                    bbox: [0.45, y - 0.2, 0.55, y],
                    predicted: predicted(i),
                })
            })
            .collect()
    }

    fn straight(from: f32, to: f32, frames: usize) -> Vec<Option<f32>> {
        (0..frames)
            .map(|i| Some(from + (to - from) * i as f32 / (frames - 1) as f32))
            .collect()
    }

    fn directions(events: &[Event]) -> Vec<&str> {
        events.iter().filter_map(|e| e.direction.as_deref()).collect()
    }

    #[test]
    fn straight_crossings_count_once_each_way() {
        let down = walk(1, &straight(0.3, 0.7, 20), |_| false);
        let up = walk(2, &straight(0.7, 0.3, 20), |_| false);
        let events = evaluate(&door(), &names(), down.into_iter().chain(up));
        assert_eq!(directions(&events), ["in", "out"]);
        // Dated at the first frame past the line, with the anchor there.
        let first = &events[0];
        assert_eq!(first.track_id, 1);
        assert!(first.position[1] > 0.5 && first.position[1] < 0.53, "{first:?}");
        assert_eq!(first.time_ms, first.frame * FPS_MS);
        // Back and forth under one id: once per direction, never more.
        let mut again = straight(0.3, 0.7, 20);
        again.extend(straight(0.7, 0.3, 20));
        again.extend(straight(0.3, 0.7, 20));
        assert_eq!(
            directions(&evaluate(&door(), &names(), walk(3, &again, |_| false))),
            ["in", "out"]
        );
    }

    #[test]
    fn jitter_on_the_line_does_not_count() {
        // Two frames each side, over and over: never three in a row.
        let mut ys: Vec<Option<f32>> = vec![Some(0.4); 5];
        for i in 0..40 {
            ys.push(Some(if (i / 2) % 2 == 0 { 0.51 } else { 0.49 }));
        }
        assert!(evaluate(&door(), &names(), walk(1, &ys, |_| false)).is_empty());
        // ...and when it finally settles below, it counts once.
        ys.extend(vec![Some(0.6); 5]);
        assert_eq!(
            directions(&evaluate(&door(), &names(), walk(1, &ys, |_| false))),
            ["in"]
        );
    }

    #[test]
    fn a_track_lost_mid_crossing_counts_once() {
        let mut ys = straight(0.3, 0.48, 10);
        ys.extend(vec![None; 10]);
        ys.extend(straight(0.55, 0.7, 10));
        let events = evaluate(&door(), &names(), walk(1, &ys, |_| false));
        assert_eq!(directions(&events), ["in"]);
        assert_eq!(events[0].frame, 20, "dated when it was seen past the line");
    }

    #[test]
    fn predicted_boxes_count_but_predicted_only_tracks_do_not() {
        // Detected on every fifth frame, predicted between: counts as usual.
        let ys = straight(0.3, 0.7, 30);
        let events = evaluate(&door(), &names(), walk(1, &ys, |i| i % 5 != 0));
        assert_eq!(directions(&events), ["in"]);
        // Never detected: never counted.
        assert!(evaluate(&door(), &names(), walk(2, &ys, |_| true)).is_empty());
        // A crossing made before the first detection is not counted either.
        let late = evaluate(&door(), &names(), walk(3, &ys, |i| i < 25));
        assert!(late.is_empty(), "{late:?}");
    }

    #[test]
    fn crossings_beside_the_line_and_of_other_classes_do_not_count() {
        let mut rules = door();
        rules.lines[0].to = [0.4, 0.5]; // ends left of where the track walks (x = 0.5)
        assert!(evaluate(&rules, &names(), walk(1, &straight(0.3, 0.7, 20), |_| false)).is_empty());
        let mut cars_only = door();
        cars_only.lines[0].classes = vec!["car".into()];
        assert!(evaluate(&cars_only, &names(), walk(1, &straight(0.3, 0.7, 20), |_| false)).is_empty());
    }

    fn square_zone(min_dwell_s: Option<f64>) -> Rules {
        Rules {
            zones: vec![Zone {
                min_dwell_s,
                ..zone("queue", vec![[0.3, 0.4], [0.7, 0.4], [0.7, 0.6], [0.3, 0.6]])
            }],
            ..Rules::default()
        }
    }

    #[test]
    fn zones_report_entries_exits_and_dwell() {
        // Outside for 5 frames, inside for 50 (2 s), outside again.
        let mut ys = vec![Some(0.2); 5];
        ys.extend(vec![Some(0.5); 50]);
        ys.extend(vec![Some(0.8); 5]);
        let events = evaluate(&square_zone(Some(1.0)), &names(), walk(1, &ys, |_| false));
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::ZoneEntered, EventKind::DwellExceeded, EventKind::ZoneLeft]
        );
        assert_eq!(events[0].frame, 5);
        assert_eq!(events[1].dwell_ms, Some(1000));
        assert_eq!(events[2].dwell_ms, Some(50 * FPS_MS));
        // A track that starts inside has entered; one that never leaves has no exit.
        let inside = evaluate(&square_zone(None), &names(), walk(2, &[Some(0.5); 10], |_| false));
        assert_eq!(
            inside.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::ZoneEntered]
        );
        assert_eq!(inside[0].frame, 0);
    }

    #[test]
    fn a_concave_zone_leaves_its_notch_outside() {
        // A "U" whose notch is where the track stands: never inside.
        let mut rules = square_zone(None);
        rules.zones[0].polygon = vec![
            [0.1, 0.1],
            [0.4, 0.1],
            [0.4, 0.6],
            [0.6, 0.6],
            [0.6, 0.1],
            [0.9, 0.1],
            [0.9, 0.9],
            [0.1, 0.9],
        ];
        assert!(evaluate(&rules, &names(), walk(1, &[Some(0.3); 10], |_| false)).is_empty());
        // Below the notch, in the U's bottom: inside.
        let events = evaluate(&rules, &names(), walk(2, &[Some(0.8); 10], |_| false));
        assert_eq!(events.len(), 1);
    }

    fn run(analyzer: &mut Analyzer, sightings: &[Sighting]) -> Vec<Event> {
        let mut out = Vec::new();
        for s in sightings {
            analyzer.observe(s, &mut out);
        }
        out
    }

    #[test]
    fn a_track_back_within_the_window_keeps_its_state() {
        // Down across the door, lost for 25 frames, back below it, then up and down again.
        let mut ys = straight(0.3, 0.7, 20);
        ys.extend([None; 25]);
        ys.extend(straight(0.7, 0.3, 20));
        ys.extend(straight(0.3, 0.7, 20));
        let sightings = walk(1, &ys, |_| false);
        let mut kept = Analyzer::new(&door(), &names(), 30);
        assert_eq!(directions(&run(&mut kept, &sightings)), ["in", "out"]);
        // Forgotten during the gap, the track would have counted its second way down again.
        let mut forgetful = Analyzer::new(&door(), &names(), 10);
        assert_eq!(directions(&run(&mut forgetful, &sightings)), ["in", "out", "in"]);
    }

    #[test]
    fn memory_follows_the_tracks_on_screen_not_the_video_length() {
        let mut analyzer = Analyzer::new(&door(), &names(), 30);
        let mut most = 0;
        // A new person every 10 frames for 10,000 frames, each seen for 20 frames.
        let mut sightings: Vec<Sighting> = (0..1000u64)
            .flat_map(|id| {
                walk(id, &straight(0.3, 0.7, 20), |_| false)
                    .into_iter()
                    .map(move |s| Sighting {
                        frame: id * 10 + s.frame,
                        ..s
                    })
            })
            .collect();
        sightings.sort_by_key(|s| s.frame);
        for s in &sightings {
            analyzer.observe(s, &mut Vec::new());
            most = most.max(analyzer.tracks());
        }
        // At most the two on screen, those unseen for up to 30 frames and one sweep period's worth.
        assert!(most <= 10, "{most} tracks held at once");
    }
}
