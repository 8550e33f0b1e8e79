//! A video's analytics: its rules (tree `rules`: id → JSON [`RulesRecord`]) and the events they
//! gave (tree `events`: id ‖ generation ‖ time_ms ‖ seq → JSON [`Event`]).
//!
//! New rules replace the old results atomically: their events are written under the next
//! generation, then the rules record (one key) is switched to it, then the old generation's
//! events are removed. A reader follows the record's generation, so it sees the old results or
//! the new ones, never a mix; a crash between the steps leaves only unreferenced keys, removed by
//! the next replacement or the video's deletion.
//!
//! A live source started again (stop and start, a server restart, a crash) keeps its history:
//! with its rules unchanged it goes on adding to the same generation ([`Store::reopen_analytics`]),
//! numbering its events after every stored one. An upload's job run again replaces its results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{now_ms, Store, StoreError, VideoId, MAX_SCAN_PER_PAGE};
use crate::analytics::{Event, EventKind, Rules};

/// Key: id (8) ‖ generation (4) ‖ time_ms (8) ‖ seq (4).
const KEY_LEN: usize = 24;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesRecord {
    pub rules: Rules,
    /// Which events are these rules': bumped on every replacement.
    pub generation: u32,
    /// Unix ms when the events were all worked out; none while the video's job works them out
    /// or has yet to.
    pub analysed_at: Option<u64>,
    /// How many events these rules gave (so far, while a job works them out), and how long
    /// working them out took.
    pub events: u64,
    pub took_ms: u64,
    /// `events` by kind.
    #[serde(default)]
    pub by_kind: BTreeMap<EventKind, u64>,
}

fn add_kinds(by_kind: &mut BTreeMap<EventKind, u64>, events: &[Event]) {
    for e in events {
        *by_kind.entry(e.kind).or_default() += 1;
    }
}

/// Which events a page holds.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Kinds kept; empty: every kind.
    pub kinds: Vec<EventKind>,
    pub rule: Option<String>,
    /// Class ids kept; empty: every class.
    pub class_ids: Vec<u16>,
    pub start_ms: u64,
    /// Exclusive.
    pub end_ms: Option<u64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub items: Vec<Event>,
    pub next_cursor: Option<String>,
}

fn key(id: VideoId, generation: u32, time_ms: u64, seq: u32) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&id.to_be_bytes());
    k[8..12].copy_from_slice(&generation.to_be_bytes());
    k[12..20].copy_from_slice(&time_ms.to_be_bytes());
    k[20..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// A cursor is the hex of the last key's generation, time and seq: opaque to clients.
fn encode_cursor(k: &[u8]) -> String {
    k[8..].iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(id: VideoId, generation: u32, c: &str) -> Result<[u8; KEY_LEN], StoreError> {
    let bad = |why: &str| StoreError::InvalidQuery(format!("bad cursor: {why}"));
    if c.len() != (KEY_LEN - 8) * 2 || !c.is_ascii() {
        return Err(bad("not one this server gave"));
    }
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&id.to_be_bytes());
    for (i, b) in k[8..].iter_mut().enumerate() {
        *b = u8::from_str_radix(&c[i * 2..i * 2 + 2], 16).map_err(|_| bad("not hex"))?;
    }
    if k[8..12] != generation.to_be_bytes() {
        return Err(bad("the rules changed since it was given; start again without one"));
    }
    Ok(k)
}

fn decode_event(k: &[u8], v: &[u8]) -> Result<Event, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        what: "analytics event",
        key: encode_cursor(k),
        reason: e.to_string(),
    })
}

/// `events` under `generation`, numbered from `first_seq` (which keeps equal times apart).
fn event_batch(id: VideoId, generation: u32, first_seq: u32, events: &[Event]) -> Result<sled::Batch, StoreError> {
    let mut batch = sled::Batch::default();
    for (seq, e) in (first_seq..).zip(events) {
        let value = serde_json::to_vec(e).map_err(|err| StoreError::Encode {
            what: "analytics event",
            reason: err.to_string(),
        })?;
        batch.insert(&key(id, generation, e.time_ms, seq), value);
    }
    Ok(batch)
}

impl Store {
    pub fn get_rules(&self, id: VideoId) -> Result<Option<RulesRecord>, StoreError> {
        let Some(v) = self.trees()?.rules.get(id.to_be_bytes())? else {
            return Ok(None);
        };
        serde_json::from_slice(&v).map(Some).map_err(|e| StoreError::Corrupt {
            what: "rules record",
            key: id.to_string(),
            reason: e.to_string(),
        })
    }

    /// Puts `rules` and their `events` (in time order; `None`: not worked out yet) in place of the
    /// video's previous ones. One writer at a time (see `job::analysis`).
    pub fn replace_analytics(
        &self,
        id: VideoId,
        rules: Rules,
        events: Option<&[Event]>,
        took_ms: u64,
    ) -> Result<RulesRecord, StoreError> {
        if !self.video_exists(id)? {
            return Err(StoreError::NotFound(id));
        }
        let generation = self.get_rules(id)?.map_or(1, |r| r.generation.wrapping_add(1));
        self.trees()?
            .events
            .apply_batch(event_batch(id, generation, 0, events.unwrap_or_default())?)?;
        let mut record = RulesRecord {
            rules,
            generation,
            analysed_at: events.map(|_| now_ms()),
            events: events.map_or(0, |e| e.len() as u64),
            took_ms,
            by_kind: BTreeMap::new(),
        };
        add_kinds(&mut record.by_kind, events.unwrap_or_default());
        self.put_rules_record(id, &record)?;
        self.remove_events(id, Some(generation))?;
        Ok(record)
    }

    /// Takes up the results of the video's rules where they stand, to be added to (a live source
    /// started again: its history stays): `None` when it has no rules or its rules are no longer
    /// `rules` (those changed meanwhile, and start afresh). Returns the record, marked as being
    /// worked out again, and the seq after every stored one of its generation, so the events the
    /// new run adds never overwrite one an earlier run stored. One writer at a time (see
    /// `job::analysis`).
    pub fn reopen_analytics(&self, id: VideoId, rules: &Rules) -> Result<Option<(RulesRecord, u32)>, StoreError> {
        let Some(mut record) = self.get_rules(id)?.filter(|r| r.rules == *rules) else {
            return Ok(None);
        };
        let next_seq = self.next_event_seq(id, record.generation)?;
        record.analysed_at = None;
        self.put_rules_record(id, &record)?;
        Ok(Some((record, next_seq)))
    }

    /// One past the highest seq stored under `generation`. Every key is looked at: times are
    /// capture times, which a clock set back can make go back, so the latest event need not hold
    /// the highest seq; the record's count is no guide either (a crash between the events and
    /// the record leaves it short, and retention removes events it counted). Keys only, once per
    /// run: a retention window's events are cheap to walk.
    fn next_event_seq(&self, id: VideoId, generation: u32) -> Result<u32, StoreError> {
        let mut prefix = id.to_be_bytes().to_vec();
        prefix.extend_from_slice(&generation.to_be_bytes());
        let mut next = 0u32;
        for k in self.trees()?.events.scan_prefix(prefix).keys() {
            let k = k?;
            let seq = k
                .get(20..KEY_LEN)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "analytics event key",
                    key: encode_cursor(&k),
                    reason: format!("{} bytes long, not {KEY_LEN}", k.len()),
                })?;
            next = next.max(seq.saturating_add(1));
        }
        Ok(next)
    }

    /// Adds events, numbered from `first_seq`, to the results of `generation` while they are
    /// being worked out (a job's rules, frame by frame). `None`, and nothing written, when the
    /// video's rules have been replaced since. One writer at a time (see `job::analysis`).
    pub fn append_events(
        &self,
        id: VideoId,
        generation: u32,
        first_seq: u32,
        events: &[Event],
    ) -> Result<Option<RulesRecord>, StoreError> {
        let Some(mut record) = self.get_rules(id)?.filter(|r| r.generation == generation) else {
            return Ok(None);
        };
        self.trees()?
            .events
            .apply_batch(event_batch(id, generation, first_seq, events)?)?;
        record.events += events.len() as u64;
        add_kinds(&mut record.by_kind, events);
        self.put_rules_record(id, &record)?;
        Ok(Some(record))
    }

    /// Marks the results of `generation` complete: `None` when the rules have been replaced
    /// since. One writer at a time (see `job::analysis`).
    pub fn complete_analytics(
        &self,
        id: VideoId,
        generation: u32,
        took_ms: u64,
    ) -> Result<Option<RulesRecord>, StoreError> {
        let Some(mut record) = self.get_rules(id)?.filter(|r| r.generation == generation) else {
            return Ok(None);
        };
        record.analysed_at = Some(now_ms());
        record.took_ms = took_ms;
        self.put_rules_record(id, &record)?;
        Ok(Some(record))
    }

    fn put_rules_record(&self, id: VideoId, record: &RulesRecord) -> Result<(), StoreError> {
        let value = serde_json::to_vec(record).map_err(|e| StoreError::Encode {
            what: "rules record",
            reason: e.to_string(),
        })?;
        self.trees()?.rules.insert(id.to_be_bytes(), value)?;
        Ok(())
    }

    /// Removes the video's events of every generation but `keep`.
    fn remove_events(&self, id: VideoId, keep: Option<u32>) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let mut batch = sled::Batch::default();
        for entry in trees.events.scan_prefix(id.to_be_bytes()).keys() {
            let k = entry?;
            if keep.is_none_or(|g| k.get(8..12) != Some(&g.to_be_bytes()[..])) {
                batch.remove(k);
            }
        }
        Ok(trees.events.apply_batch(batch)?)
    }

    /// The rules and events of a deleted video.
    pub(crate) fn remove_analytics(&self, id: VideoId) -> Result<(), StoreError> {
        self.remove_events(id, None)?;
        self.trees()?.rules.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// Removes up to `max` of the current rules' events of video `id` from before `before_ms`,
    /// oldest first (a live source's retention). Returns how many.
    pub fn remove_events_before(&self, id: VideoId, before_ms: u64, max: usize) -> Result<usize, StoreError> {
        let Some(record) = self.get_rules(id)? else {
            return Ok(0);
        };
        let g = record.generation;
        let tree = &self.trees()?.events;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for k in tree.range(key(id, g, 0, 0)..key(id, g, before_ms, 0)).keys().take(max) {
            batch.remove(k?);
            n += 1;
        }
        tree.apply_batch(batch)?;
        Ok(n)
    }

    /// Every event of the video's current rules, in time order.
    pub fn all_events(&self, id: VideoId) -> Result<Vec<Event>, StoreError> {
        let Some(record) = self.get_rules(id)? else {
            return Ok(Vec::new());
        };
        let mut prefix = id.to_be_bytes().to_vec();
        prefix.extend_from_slice(&record.generation.to_be_bytes());
        self.trees()?
            .events
            .scan_prefix(prefix)
            .map(|entry| {
                let (k, v) = entry?;
                decode_event(&k, &v)
            })
            .collect()
    }

    /// One page of the video's events, filtered, in time order.
    pub fn events_page(&self, id: VideoId, q: &EventQuery) -> Result<EventPage, StoreError> {
        let Some(record) = self.get_rules(id)? else {
            return Ok(EventPage::default());
        };
        let g = record.generation;
        let from = match &q.cursor {
            Some(c) => {
                let mut k = decode_cursor(id, g, c)?.to_vec();
                k.push(0); // just after the cursor's key
                k
            }
            None => key(id, g, q.start_ms, 0).to_vec(),
        };
        let to = key(id, g, q.end_ms.unwrap_or(u64::MAX), 0);
        let to = if q.end_ms.is_some() {
            to.to_vec()
        } else {
            // Past every key of this generation.
            key(id, g.wrapping_add(1), 0, 0).to_vec()
        };
        if from >= to {
            return Ok(EventPage::default());
        }
        let mut page = EventPage::default();
        let mut last_key = None;
        for (scanned, entry) in self.trees()?.events.range(from..to).enumerate() {
            let (k, v) = entry?;
            if page.items.len() == q.limit || scanned >= MAX_SCAN_PER_PAGE {
                // More remain: the next page starts after the last key looked at.
                page.next_cursor = last_key.as_deref().map(encode_cursor);
                break;
            }
            let e = decode_event(&k, &v)?;
            last_key = Some(k.to_vec());
            let keep = (q.kinds.is_empty() || q.kinds.contains(&e.kind))
                && q.rule.as_ref().is_none_or(|r| *r == e.rule)
                && (q.class_ids.is_empty() || q.class_ids.contains(&e.class_id));
            if keep {
                page.items.push(e);
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store_with_video;

    fn event(kind: EventKind, rule: &str, time_ms: u64) -> Event {
        Event {
            kind,
            rule: rule.into(),
            track_id: 1,
            class_id: 0,
            frame: time_ms / 40,
            time_ms,
            position: [0.5, 0.5],
            direction: None,
            dwell_ms: None,
        }
    }

    #[test]
    fn new_rules_replace_the_old_results_and_pages_follow_them() {
        let (_dir, store, id) = temp_store_with_video();
        let old: Vec<Event> = (0..5).map(|i| event(EventKind::ZoneEntered, "a", i * 100)).collect();
        let first = store
            .replace_analytics(id, Rules::default(), Some(&old), 0)
            .expect("stored");
        let new: Vec<Event> = (0..25)
            .map(|i| {
                event(
                    if i % 2 == 0 {
                        EventKind::LineCrossed
                    } else {
                        EventKind::ZoneLeft
                    },
                    "b",
                    i * 10,
                )
            })
            .collect();
        let second = store
            .replace_analytics(id, Rules::default(), Some(&new), 0)
            .expect("replaced");
        assert_eq!((first.generation, second.generation, second.events), (1, 2, 25));
        assert_eq!(
            second.by_kind,
            BTreeMap::from([(EventKind::LineCrossed, 13), (EventKind::ZoneLeft, 12)])
        );
        assert_eq!(store.all_events(id).expect("read"), new, "only the new events remain");
        assert_eq!(store.trees().expect("open").events.len(), 25, "the old ones are gone");

        // Paged by 4, crossings only: every one once, in order.
        let mut q = EventQuery {
            kinds: vec![EventKind::LineCrossed],
            limit: 4,
            ..EventQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.events_page(id, &q).expect("page");
            seen.extend(page.items.iter().map(|e| e.time_ms));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, (0..25).step_by(2).map(|i| i * 10).collect::<Vec<u64>>());
        // A time window, end exclusive.
        let window = EventQuery {
            start_ms: 50,
            end_ms: Some(100),
            limit: 100,
            ..EventQuery::default()
        };
        let times: Vec<u64> = store
            .events_page(id, &window)
            .expect("page")
            .items
            .iter()
            .map(|e| e.time_ms)
            .collect();
        assert_eq!(times, [50, 60, 70, 80, 90]);
        // A cursor from before a replacement is refused with the reason.
        let stale = EventQuery {
            cursor: Some(format!("{:08x}{:016x}{:08x}", 1, 0, 0)),
            limit: 10,
            ..EventQuery::default()
        };
        let err = store.events_page(id, &stale).expect_err("stale cursor");
        assert!(err.to_string().contains("rules changed"), "{err}");

        store.delete_video(id).expect("deleted");
        assert_eq!(store.get_rules(id).expect("read"), None);
        assert_eq!(store.trees().expect("open").events.len(), 0);
    }

    fn zone_rules(name: &str) -> Rules {
        Rules {
            zones: vec![crate::analytics::fixtures::zone(
                name,
                vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
            )],
            ..Rules::default()
        }
    }

    #[test]
    fn reopened_results_keep_their_events_and_number_new_ones_after_them() {
        let (_dir, store, id) = temp_store_with_video();
        let rules = zone_rules("all");
        assert_eq!(store.reopen_analytics(id, &rules).expect("read"), None, "no rules yet");
        let first = store.replace_analytics(id, rules.clone(), None, 0).expect("begun");
        // A first run stores three events; one at the same time as the next run's first, as a
        // clock set back could make it.
        let before: Vec<Event> = [100, 200, 300]
            .iter()
            .map(|&t| event(EventKind::ZoneEntered, "all", t))
            .collect();
        store
            .append_events(id, first.generation, 0, &before)
            .expect("stored")
            .expect("current");
        store.complete_analytics(id, first.generation, 5).expect("completed");

        let (record, next_seq) = store.reopen_analytics(id, &rules).expect("read").expect("same rules");
        assert_eq!((record.generation, record.events, next_seq), (first.generation, 3, 3));
        assert_eq!(record.analysed_at, None, "being worked out again");
        let after = [
            event(EventKind::ZoneLeft, "all", 300),
            event(EventKind::ZoneEntered, "all", 400),
        ];
        store
            .append_events(id, record.generation, next_seq, &after)
            .expect("stored")
            .expect("current");
        let all = store.all_events(id).expect("read");
        assert_eq!(all.len(), 5, "nothing overwritten: {all:?}");
        for e in before.iter().chain(&after) {
            assert!(all.contains(e), "{e:?} is gone");
        }
        let record = store.get_rules(id).expect("read").expect("rules");
        assert_eq!((record.events, record.by_kind[&EventKind::ZoneEntered]), (5, 4));

        // Other rules: no taking up, and results start afresh.
        assert_eq!(store.reopen_analytics(id, &zone_rules("other")).expect("read"), None);
        let (_, next_seq) = store.reopen_analytics(id, &rules).expect("read").expect("same rules");
        assert_eq!(next_seq, 5);
    }
}
