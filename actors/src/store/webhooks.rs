//! Webhooks and their deliveries, kept in sled so a restart loses nothing:
//! - `webhooks`: id → JSON [`WebhookRecord`];
//! - `deliveries`: webhook ‖ seq → JSON [`Delivery`], what was sent and every attempt; `seq` is
//!   a store-wide sequence, so one webhook's log reads in the order its deliveries were queued;
//! - `outbox`: webhook ‖ seq → Unix ms of the next attempt, the deliveries still to make. Keyed
//!   by webhook first, so each webhook's sender reads its own deliveries, oldest first, without
//!   decoding anyone else's;
//! - `delivery_index`: webhook ‖ delivery id → seq, the events a webhook already has queued or
//!   received, so an event raised again (a job retried after a crash) is not queued twice.
//!
//! A delivery's id is not made here: it is derived from the event (the caller's
//! [`Outgoing::id`]), the same every time the event is raised, and the same for every webhook.
//!
//! Bounded: the outbox holds at most the `outbox_max` given to [`Store::enqueue_deliveries`] (the
//! oldest pending deliveries, whichever webhook's, are dropped to make room), and each webhook's
//! log keeps its latest [`MAX_LOGGED_DELIVERIES`] deliveries; the index follows the log (an entry
//! goes when its delivery leaves the log), and all three go with their webhook.
//!
//! Earlier versions keyed the outbox by delivery alone (seq → webhook ‖ due) and kept no `seq`
//! in a delivery; [`Store::upgrade_webhook_outbox`] rewrites such an outbox in place, and a
//! delivery's `seq` is always read from its key.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{now_ms, Store, StoreError, VideoId};
use crate::analytics::EventKind;

/// Deliveries kept in one webhook's log (the oldest go first; one still pending then is dropped,
/// and counted so).
pub const MAX_LOGGED_DELIVERIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub id: u64,
    pub url: String,
    /// Signs every body (HMAC-SHA256); never shown back.
    pub secret: String,
    /// Kinds delivered; empty: every kind.
    pub kinds: Vec<EventKind>,
    /// Only this video's events, when set.
    pub video: Option<VideoId>,
    pub created_at: u64,
}

impl WebhookRecord {
    pub fn wants(&self, video: VideoId, kind: EventKind) -> bool {
        self.video.is_none_or(|v| v == video) && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Pushed out of a full outbox before it could be delivered.
    Dropped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: u64,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// What receivers see (`X-Sightline-Delivery`): derived from the event, so the same event
    /// always has the same id. (Deliveries queued by earlier versions keep the id they were
    /// sent with.)
    pub id: u64,
    /// Its place in the log and the outbox; read from its key.
    #[serde(default)]
    pub seq: u64,
    pub webhook: u64,
    pub video: VideoId,
    pub kind: EventKind,
    /// The JSON body, exactly as sent (and signed) on every attempt.
    pub body: String,
    pub created_at: u64,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    /// Unix ms of the next attempt, while pending.
    pub next_attempt_at: u64,
}

/// Makes an event's JSON body for a delivery id and a webhook id.
pub type BodyFor<'a> = &'a dyn Fn(u64, u64) -> String;

/// One event to deliver to every webhook that wants it.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub kind: EventKind,
    /// The event's delivery id, derived from what identifies the event.
    pub id: u64,
    pub body: BodyFor<'a>,
}

/// What [`Store::enqueue_deliveries`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enqueued {
    pub queued: u64,
    /// Refused: the webhook already had the event queued or delivered.
    pub repeats: u64,
    /// Pushed out of the full outbox to make room.
    pub dropped: u64,
}

/// A webhook's deliveries that are due, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DueBatch {
    pub due: Vec<Delivery>,
    /// The earliest next attempt among the webhook's deliveries not yet due, of those looked at
    /// (all of them unless `due` was cut at its limit).
    pub next_due: Option<u64>,
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(u64),
    GiveUp,
}

/// webhook ‖ n: the key of the log, the outbox (n = seq) and the index (n = delivery id).
fn pair_key(webhook: u64, n: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&webhook.to_be_bytes());
    k[8..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The webhook and the second half of a [`pair_key`].
fn split_key(k: &[u8]) -> Option<(u64, u64)> {
    (k.len() == 16).then_some(())?;
    Some((be_u64(&k[..8])?, be_u64(&k[8..])?))
}

fn encode<T: Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Encode {
        what,
        reason: e.to_string(),
    })
}

fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, key: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        what,
        key: hex(key),
        reason: e.to_string(),
    })
}

/// A delivery from its log entry, its `seq` taken from the key.
fn decode_delivery(key: &[u8], v: &[u8]) -> Result<Delivery, StoreError> {
    let mut d: Delivery = decode("delivery", key, v)?;
    if let Some((_, seq)) = split_key(key) {
        d.seq = seq;
    }
    Ok(d)
}

fn be_u64(b: &[u8]) -> Option<u64> {
    b.try_into().ok().map(u64::from_be_bytes)
}

/// One change to a delivery at a time: a sender recording an attempt and a job dropping the
/// oldest deliveries from a full outbox read, change and write the same record, and without this
/// one could write back over the other (a dropped delivery put back in the outbox, a delivered
/// one marked dropped).
static UPDATES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock_updates() -> std::sync::MutexGuard<'static, ()> {
    UPDATES.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    pub fn create_webhook(
        &self,
        url: String,
        secret: String,
        kinds: Vec<EventKind>,
        video: Option<VideoId>,
    ) -> Result<WebhookRecord, StoreError> {
        let trees = self.trees()?;
        let record = WebhookRecord {
            id: trees.db.generate_id()?,
            url,
            secret,
            kinds,
            video,
            created_at: now_ms(),
        };
        trees
            .webhooks
            .insert(record.id.to_be_bytes(), encode("webhook", &record)?)?;
        Ok(record)
    }

    pub fn list_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        self.trees()?
            .webhooks
            .iter()
            .map(|entry| {
                let (k, v) = entry?;
                decode("webhook", &k, &v)
            })
            .collect()
    }

    /// Every webhook's id, without decoding the records.
    pub fn webhook_ids(&self) -> Result<BTreeSet<u64>, StoreError> {
        let mut ids = BTreeSet::new();
        for key in self.trees()?.webhooks.iter().keys() {
            if let Some(id) = be_u64(&key?) {
                ids.insert(id);
            }
        }
        Ok(ids)
    }

    pub fn get_webhook(&self, id: u64) -> Result<Option<WebhookRecord>, StoreError> {
        match self.trees()?.webhooks.get(id.to_be_bytes())? {
            Some(v) => decode("webhook", &id.to_be_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Removes a webhook, its log, its index and what it still had to deliver. Whether it existed.
    pub fn delete_webhook(&self, id: u64) -> Result<bool, StoreError> {
        let existed = self.trees()?.webhooks.remove(id.to_be_bytes())?.is_some();
        self.remove_webhook_leftovers(id)?;
        Ok(existed)
    }

    /// Removes what a webhook left in the log, the index and the outbox. For its deletion, and
    /// again once its sender has stopped: a job that listed the webhook just before it was
    /// deleted may have queued one more delivery.
    pub fn remove_webhook_leftovers(&self, id: u64) -> Result<(), StoreError> {
        let trees = self.trees()?;
        for tree in [&trees.deliveries, &trees.outbox, &trees.delivery_index] {
            let mut batch = sled::Batch::default();
            for key in tree.scan_prefix(id.to_be_bytes()).keys() {
                batch.remove(key?);
            }
            tree.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Rewrites an outbox of an earlier version (seq → webhook ‖ due) into this one's
    /// (webhook ‖ seq → due), and removes entries of webhooks that no longer exist. Run once at
    /// start-up, before anything is sent. Returns the entries rewritten.
    pub fn upgrade_webhook_outbox(&self) -> Result<usize, StoreError> {
        let trees = self.trees()?;
        let mut rewritten = 0;
        for entry in trees.outbox.iter() {
            let (k, v) = entry?;
            if k.len() != 8 {
                continue;
            }
            let old = (be_u64(&k), v.get(..8).and_then(be_u64), v.get(8..16).and_then(be_u64));
            if let (Some(seq), Some(webhook), Some(due)) = old {
                trees.outbox.insert(pair_key(webhook, seq), &due.to_be_bytes())?;
                rewritten += 1;
            }
            trees.outbox.remove(k)?;
        }
        let hooks = self.webhook_ids()?;
        let mut orphans = BTreeSet::new();
        for tree in [&trees.deliveries, &trees.outbox, &trees.delivery_index] {
            for key in tree.iter().keys() {
                let key = key?;
                match key.get(..8).and_then(be_u64) {
                    Some(hook) if !hooks.contains(&hook) => {
                        orphans.insert(hook);
                    }
                    Some(_) => {}
                    None => {
                        tree.remove(key)?;
                    }
                }
            }
        }
        for hook in orphans {
            // Made since the ids were read (the API is up by now): not an orphan.
            if self.get_webhook(hook)?.is_none() {
                self.remove_webhook_leftovers(hook)?;
            }
        }
        Ok(rewritten)
    }

    /// Queues one delivery per (webhook that wants it, event), unless the webhook already has
    /// that event pending or delivered; `body` makes an event's JSON for its delivery id and a
    /// webhook. Drops the oldest pending deliveries beyond `outbox_max`.
    pub fn enqueue_deliveries<'a>(
        &self,
        video: VideoId,
        events: impl IntoIterator<Item = Outgoing<'a>>,
        outbox_max: usize,
    ) -> Result<Enqueued, StoreError> {
        let mut done = Enqueued::default();
        let hooks = self.list_webhooks()?;
        if hooks.is_empty() {
            return Ok(done);
        }
        let trees = self.trees()?;
        let now = now_ms();
        let mut touched = BTreeSet::new();
        for event in events {
            for hook in hooks.iter().filter(|h| h.wants(video, event.kind)) {
                let index_key = pair_key(hook.id, event.id);
                if let Some(seq) = trees.delivery_index.get(index_key)?.as_deref().and_then(be_u64) {
                    if self.owed_or_delivered(hook.id, seq)? {
                        done.repeats += 1;
                        continue;
                    }
                }
                let seq = trees.db.generate_id()?;
                let delivery = Delivery {
                    id: event.id,
                    seq,
                    webhook: hook.id,
                    video,
                    kind: event.kind,
                    body: (event.body)(event.id, hook.id),
                    created_at: now,
                    state: DeliveryState::Pending,
                    attempts: Vec::new(),
                    next_attempt_at: now,
                };
                // The index last: a crash before it may let the event be queued again (under the
                // same id, which receivers drop), never leave it marked but unsent.
                let key = pair_key(hook.id, seq);
                trees.deliveries.insert(key, encode("delivery", &delivery)?)?;
                trees.outbox.insert(key, &now.to_be_bytes())?;
                trees.delivery_index.insert(index_key, &seq.to_be_bytes())?;
                done.queued += 1;
                touched.insert(hook.id);
            }
        }
        if done.queued > 0 {
            let ids: Vec<u64> = hooks.iter().map(|h| h.id).collect();
            done.dropped = self.drop_oldest(&ids, outbox_max)?;
            for hook in touched {
                done.dropped += self.prune_log(hook)?;
            }
        }
        Ok(done)
    }

    /// Whether the delivery at `seq` is still to be made or was made: then its event is not
    /// queued again. One that failed or was dropped may be, by a job that raises it again.
    fn owed_or_delivered(&self, webhook: u64, seq: u64) -> Result<bool, StoreError> {
        let key = pair_key(webhook, seq);
        Ok(match self.trees()?.deliveries.get(key)? {
            Some(v) => matches!(
                decode_delivery(&key, &v).map(|d| d.state),
                Ok(DeliveryState::Pending | DeliveryState::Delivered)
            ),
            None => false,
        })
    }

    /// Drops the oldest pending deliveries, whichever webhook's, until the outbox holds at most
    /// `max`: a merge of the webhooks' parts of the outbox, each already oldest first.
    fn drop_oldest(&self, hooks: &[u64], max: usize) -> Result<u64, StoreError> {
        let trees = self.trees()?;
        let mut over = trees.outbox.len().saturating_sub(max);
        if over == 0 {
            return Ok(0);
        }
        let next = |it: &mut sled::Iter| -> Result<Option<(u64, u64)>, StoreError> {
            Ok(match it.next().transpose()? {
                Some((k, _)) => split_key(&k),
                None => None,
            })
        };
        let mut parts: Vec<sled::Iter> = hooks
            .iter()
            .map(|h| trees.outbox.scan_prefix(h.to_be_bytes()))
            .collect();
        let mut heads = parts.iter_mut().map(next).collect::<Result<Vec<_>, _>>()?;
        let mut dropped = 0;
        while over > 0 {
            let oldest = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.map(|(hook, seq)| (seq, hook, i)))
                .min();
            let Some((seq, hook, i)) = oldest else { break };
            let key = pair_key(hook, seq);
            let _one_at_a_time = lock_updates();
            trees.outbox.remove(key)?;
            // Delivered meanwhile (its sender got there first): it stays delivered.
            self.update_delivery(&key, |d| {
                if d.state == DeliveryState::Pending {
                    d.state = DeliveryState::Dropped;
                }
            })?;
            heads[i] = next(&mut parts[i])?;
            over -= 1;
            dropped += 1;
        }
        Ok(dropped)
    }

    /// One webhook's deliveries due at `now`, oldest first, at most `limit`. An outbox entry
    /// whose log entry is gone (pruned) or unreadable is removed: there is nothing to send.
    pub fn due_deliveries(&self, webhook: u64, now: u64, limit: usize) -> Result<DueBatch, StoreError> {
        let trees = self.trees()?;
        let mut batch = DueBatch::default();
        for entry in trees.outbox.scan_prefix(webhook.to_be_bytes()) {
            let (k, v) = entry?;
            let Some(due_at) = be_u64(&v) else {
                trees.outbox.remove(k)?;
                continue;
            };
            if due_at > now {
                batch.next_due = Some(batch.next_due.map_or(due_at, |n| n.min(due_at)));
                continue;
            }
            if batch.due.len() == limit {
                break;
            }
            match trees.deliveries.get(&k)? {
                Some(v) => match decode_delivery(&k, &v) {
                    Ok(d) => batch.due.push(d),
                    Err(e) => {
                        tracing::warn!("a webhook delivery cannot be read and is not sent: {e}");
                        trees.outbox.remove(k)?;
                    }
                },
                None => {
                    trees.outbox.remove(k)?;
                }
            }
        }
        Ok(batch)
    }

    /// The seq of the newest delivery in a webhook's outbox: new deliveries always come after
    /// it, so a sender that saw it can tell, with one lookup, whether anything was queued since.
    pub fn outbox_tail(&self, webhook: u64) -> Result<Option<u64>, StoreError> {
        let last = self
            .trees()?
            .outbox
            .scan_prefix(webhook.to_be_bytes())
            .keys()
            .next_back();
        Ok(match last.transpose()? {
            Some(k) => split_key(&k).map(|(_, seq)| seq),
            None => None,
        })
    }

    /// Deliveries waiting in the outbox.
    pub fn outbox_len(&self) -> Result<usize, StoreError> {
        Ok(self.trees()?.outbox.len())
    }

    /// Records an attempt at the delivery `seq` and what follows from it. One dropped or pruned
    /// while the attempt was on its way is not put back in the outbox.
    pub fn record_attempt(
        &self,
        webhook: u64,
        seq: u64,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        let key = pair_key(webhook, seq);
        let mut pending = false;
        let _one_at_a_time = lock_updates();
        self.update_delivery(&key, |d| {
            d.attempts.push(attempt);
            match outcome {
                AttemptOutcome::Delivered => d.state = DeliveryState::Delivered,
                AttemptOutcome::GiveUp => d.state = DeliveryState::Failed,
                AttemptOutcome::RetryAt(at) => d.next_attempt_at = at,
            }
            pending = d.state == DeliveryState::Pending;
        })?;
        let outbox = &self.trees()?.outbox;
        match outcome {
            AttemptOutcome::RetryAt(at) if pending => outbox.insert(key, &at.to_be_bytes())?,
            _ => outbox.remove(key)?,
        };
        Ok(())
    }

    /// A webhook's deliveries, newest first, at most `limit`.
    pub fn deliveries(&self, webhook: u64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.trees()?
            .deliveries
            .scan_prefix(webhook.to_be_bytes())
            .rev()
            .take(limit)
            .map(|entry| {
                let (k, v) = entry?;
                decode_delivery(&k, &v)
            })
            .collect()
    }

    /// Reads, changes and writes back one delivery; callers hold [`lock_updates`] around it and
    /// what they do to the outbox because of it.
    fn update_delivery(&self, key: &[u8; 16], f: impl FnOnce(&mut Delivery)) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let Some(v) = trees.deliveries.get(key)? else {
            return Ok(());
        };
        let mut d = decode_delivery(key, &v)?;
        f(&mut d);
        trees.deliveries.insert(key, encode("delivery", &d)?)?;
        Ok(())
    }

    /// Keeps a webhook's log at its latest [`MAX_LOGGED_DELIVERIES`] entries; the index and the
    /// outbox let go of what leaves it.
    /// Returns how many of the entries it removed were still to be delivered: dropped.
    fn prune_log(&self, webhook: u64) -> Result<u64, StoreError> {
        let trees = self.trees()?;
        let keys: Vec<sled::IVec> = trees
            .deliveries
            .scan_prefix(webhook.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()?;
        let mut dropped = 0;
        for key in keys.iter().take(keys.len().saturating_sub(MAX_LOGGED_DELIVERIES)) {
            let _one_at_a_time = lock_updates();
            if trees.outbox.remove(key)?.is_some() {
                dropped += 1;
            }
            let Some(v) = trees.deliveries.remove(key)? else {
                continue;
            };
            let Ok(d) = decode_delivery(key, &v) else {
                continue;
            };
            // Only its own entry: an event queued again since points at the newer delivery.
            let index_key = pair_key(webhook, d.id);
            if trees.delivery_index.get(index_key)?.as_deref().and_then(be_u64) == Some(d.seq) {
                trees.delivery_index.remove(index_key)?;
            }
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn body(id: u64, hook: u64) -> String {
        format!("{{\"delivery\":{id},\"webhook\":{hook}}}")
    }

    fn event(kind: EventKind, id: u64) -> Outgoing<'static> {
        Outgoing { kind, id, body: &body }
    }

    fn ok() -> Attempt {
        Attempt {
            at: now_ms(),
            status: Some(200),
            error: None,
        }
    }

    fn failed() -> Attempt {
        Attempt {
            at: now_ms(),
            status: Some(500),
            error: Some("the receiver answered 500".into()),
        }
    }

    #[test]
    fn deliveries_wait_retry_and_stay_bounded() {
        let (_dir, store) = temp_store();
        let video = VideoId::from_u64(7);
        let all = store
            .create_webhook("http://a".into(), "s".into(), vec![], None)
            .expect("hook");
        let zones = store
            .create_webhook("http://b".into(), "s".into(), vec![EventKind::ZoneEntered], Some(video))
            .expect("hook");
        let events = [event(EventKind::LineCrossed, 11), event(EventKind::ZoneEntered, 12)];
        let done = store.enqueue_deliveries(video, events, 100).expect("queued");
        assert_eq!((done.queued, done.repeats, done.dropped), (3, 0, 0));
        // The first webhook takes both, the second only the zone event; each sees only its own.
        assert_eq!(store.outbox_len().expect("len"), 3);
        let mine = store.due_deliveries(all.id, now_ms(), 10).expect("due").due;
        assert_eq!(mine.iter().map(|d| d.id).collect::<Vec<_>>(), [11, 12], "oldest first");
        let theirs = store.due_deliveries(zones.id, now_ms(), 10).expect("due").due;
        assert_eq!((theirs.len(), theirs[0].id), (1, 12));
        // The same event has the same id for every webhook, and its body says so.
        assert!(theirs[0].body.contains("\"delivery\":12"));
        let first = &mine[0];

        // A failed attempt waits; a delivered one leaves the outbox.
        let later = now_ms() + 60_000;
        store
            .record_attempt(all.id, first.seq, failed(), AttemptOutcome::RetryAt(later))
            .expect("recorded");
        let batch = store.due_deliveries(all.id, now_ms(), 10).expect("due");
        assert_eq!((batch.due.len(), batch.next_due), (1, Some(later)));
        assert_eq!(store.due_deliveries(all.id, later, 10).expect("due").due.len(), 2);
        store
            .record_attempt(all.id, first.seq, ok(), AttemptOutcome::Delivered)
            .expect("recorded");
        assert_eq!(store.outbox_len().expect("len"), 2);
        let log = store.deliveries(all.id, 10).expect("log");
        let done = log.iter().find(|d| d.id == first.id).expect("in the log");
        assert_eq!((done.state, done.attempts.len()), (DeliveryState::Delivered, 2));

        // Over the bound, the oldest pending deliveries are dropped, whichever webhook's.
        let many: Vec<Outgoing> = (100..105).map(|id| event(EventKind::LineCrossed, id)).collect();
        assert_eq!(store.enqueue_deliveries(video, many, 4).expect("queued").dropped, 3);
        assert_eq!(store.outbox_len().expect("len"), 4);
        assert_eq!(
            store.due_deliveries(zones.id, now_ms(), 10).expect("due").due,
            [],
            "the zone webhook's old delivery was the oldest"
        );
        let log = store.deliveries(all.id, 100).expect("log");
        let states: Vec<(u64, DeliveryState)> = log.iter().map(|d| (d.id, d.state)).collect();
        assert_eq!(
            states,
            [
                (104, DeliveryState::Pending),
                (103, DeliveryState::Pending),
                (102, DeliveryState::Pending),
                (101, DeliveryState::Pending),
                (100, DeliveryState::Dropped),
                (12, DeliveryState::Dropped),
                (11, DeliveryState::Delivered),
            ],
            "newest first"
        );

        // Deleting a webhook takes its log, its index and its pending deliveries.
        assert!(store.delete_webhook(zones.id).expect("deleted"));
        assert!(store.deliveries(zones.id, 10).expect("log").is_empty());
        assert!(store
            .due_deliveries(zones.id, u64::MAX, 10)
            .expect("due")
            .due
            .is_empty());
        assert_eq!(store.outbox_len().expect("len"), 4);
        assert!(store.delete_webhook(all.id).expect("deleted"));
        assert_eq!(store.outbox_len().expect("len"), 0);
        assert_eq!(store.trees().expect("trees").delivery_index.len(), 0);
    }

    #[test]
    fn an_event_is_queued_once_per_webhook_unless_it_failed() {
        let (_dir, store) = temp_store();
        let video = VideoId::from_u64(7);
        let hook = store
            .create_webhook("http://a".into(), "s".into(), vec![], None)
            .expect("hook");
        let raise = |ids: &[u64]| {
            let events: Vec<Outgoing> = ids.iter().map(|&id| event(EventKind::ZoneEntered, id)).collect();
            store.enqueue_deliveries(video, events, 100).expect("queued")
        };
        assert_eq!(raise(&[1, 2]).queued, 2);
        // Raised again while pending (a job retried after a crash): refused.
        let again = raise(&[1, 2, 3]);
        assert_eq!((again.queued, again.repeats), (1, 2));
        let due = store.due_deliveries(hook.id, now_ms(), 10).expect("due").due;
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2, 3]);
        // Delivered: still refused. Given up: a later raise may try it again, under its id.
        store
            .record_attempt(hook.id, due[0].seq, ok(), AttemptOutcome::Delivered)
            .expect("recorded");
        store
            .record_attempt(hook.id, due[1].seq, failed(), AttemptOutcome::GiveUp)
            .expect("recorded");
        let third = raise(&[1, 2]);
        assert_eq!((third.queued, third.repeats), (1, 1));
        let ids: Vec<u64> = store
            .deliveries(hook.id, 10)
            .expect("log")
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, [2, 3, 2, 1]);
        // A webhook made later has none of them yet.
        let late = store
            .create_webhook("http://b".into(), "s".into(), vec![], None)
            .expect("hook");
        assert_eq!(raise(&[1]).queued, 1);
        assert_eq!(store.deliveries(late.id, 10).expect("log").len(), 1);
    }

    #[test]
    fn the_index_follows_the_log_when_it_is_pruned_and_pending_ones_count_as_dropped() {
        let (_dir, store) = temp_store();
        let video = VideoId::from_u64(7);
        let hook = store
            .create_webhook("http://a".into(), "s".into(), vec![], None)
            .expect("hook");
        let n = MAX_LOGGED_DELIVERIES as u64 + 5;
        let events: Vec<Outgoing> = (0..n).map(|id| event(EventKind::LineCrossed, id)).collect();
        let done = store.enqueue_deliveries(video, events, 10_000).expect("queued");
        assert_eq!(
            done.dropped, 5,
            "the pending deliveries pruned from the log are counted"
        );
        let log = store.deliveries(hook.id, 2000).expect("log");
        assert_eq!(log.len(), MAX_LOGGED_DELIVERIES);
        assert_eq!(log.last().map(|d| d.id), Some(5), "the oldest went first");
        let trees = store.trees().expect("trees");
        assert_eq!(trees.delivery_index.len(), MAX_LOGGED_DELIVERIES);
        assert_eq!(trees.outbox.len(), MAX_LOGGED_DELIVERIES);
    }

    #[test]
    fn an_earlier_versions_outbox_and_log_still_read() {
        let (_dir, store) = temp_store();
        let hook = store
            .create_webhook("http://a".into(), "s".into(), vec![], None)
            .expect("hook");
        let trees = store.trees().expect("trees");
        // As an earlier version wrote them: the log entry without `seq`, its id the key's, and
        // the outbox keyed by delivery alone; plus a delivery of a webhook deleted since.
        let old = serde_json::json!({
            "id": 41, "webhook": hook.id, "video": "0000000000000007", "kind": "line_crossed",
            "body": "{\"delivery\":\"41\"}", "created_at": 1, "state": "pending", "attempts": [],
            "next_attempt_at": 1,
        });
        trees
            .deliveries
            .insert(pair_key(hook.id, 41), serde_json::to_vec(&old).expect("json"))
            .expect("insert");
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&hook.id.to_be_bytes());
        value[8..].copy_from_slice(&1u64.to_be_bytes());
        trees.outbox.insert(41u64.to_be_bytes(), &value).expect("insert");
        value[..8].copy_from_slice(&999u64.to_be_bytes());
        trees.outbox.insert(42u64.to_be_bytes(), &value).expect("insert");
        trees
            .deliveries
            .insert(pair_key(999, 42), serde_json::to_vec(&old).expect("json"))
            .expect("insert");

        assert_eq!(store.upgrade_webhook_outbox().expect("upgraded"), 2);
        let due = store.due_deliveries(hook.id, now_ms(), 10).expect("due").due;
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].id, due[0].seq), (41, 41), "sent under the id it had");
        assert_eq!(store.outbox_len().expect("len"), 1, "the deleted webhook's is gone");
        assert!(store.deliveries(999, 10).expect("log").is_empty());
        store
            .record_attempt(hook.id, 41, ok(), AttemptOutcome::Delivered)
            .expect("recorded");
        assert_eq!(
            store.deliveries(hook.id, 10).expect("log")[0].state,
            DeliveryState::Delivered
        );
        // A second run finds nothing to rewrite.
        assert_eq!(store.upgrade_webhook_outbox().expect("upgraded"), 0);
    }

    #[test]
    fn an_attempt_on_a_dropped_delivery_does_not_bring_it_back() {
        let (_dir, store) = temp_store();
        let video = VideoId::from_u64(7);
        let hook = store
            .create_webhook("http://a".into(), "s".into(), vec![], None)
            .expect("hook");
        store
            .enqueue_deliveries(video, [event(EventKind::LineCrossed, 1)], 10)
            .expect("queued");
        let sent = store.due_deliveries(hook.id, now_ms(), 10).expect("due").due;
        // Pushed out while its attempt was on the way.
        store
            .enqueue_deliveries(video, [event(EventKind::LineCrossed, 2)], 1)
            .expect("queued");
        store
            .record_attempt(hook.id, sent[0].seq, failed(), AttemptOutcome::RetryAt(0))
            .expect("recorded");
        let due = store.due_deliveries(hook.id, u64::MAX, 10).expect("due").due;
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [2]);
        assert_eq!(store.outbox_tail(hook.id).expect("tail"), Some(due[0].seq));
    }
}
