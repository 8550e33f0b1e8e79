//! Webhooks and their deliveries, kept in sled so a restart loses nothing:
//! - `webhooks`: id → JSON [`WebhookRecord`];
//! - `deliveries`: webhook ‖ delivery → JSON [`Delivery`], what was sent and every attempt;
//! - `outbox`: delivery → webhook ‖ next attempt (Unix ms), the deliveries still to make, oldest
//!   first; the due time is in the key's value so finding what is due decodes nothing else.
//!
//! Bounded: the outbox holds at most the `outbox_max` given to [`Store::enqueue_deliveries`] (the
//! oldest pending deliveries are dropped to make room), and each webhook's log keeps its latest
//! [`MAX_LOGGED_DELIVERIES`] deliveries.

use serde::{Deserialize, Serialize};

use super::{now_ms, Store, StoreError, VideoId};
use crate::analytics::EventKind;

/// Deliveries kept in one webhook's log (the oldest finished ones go first).
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
    pub id: u64,
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

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(u64),
    GiveUp,
}

fn log_key(webhook: u64, delivery: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&webhook.to_be_bytes());
    k[8..].copy_from_slice(&delivery.to_be_bytes());
    k
}

fn encode<T: Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Encode {
        what,
        reason: e.to_string(),
    })
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, key: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        what,
        key: key.iter().map(|b| format!("{b:02x}")).collect(),
        reason: e.to_string(),
    })
}

fn be_u64(b: &[u8]) -> Option<u64> {
    b.try_into().ok().map(u64::from_be_bytes)
}

/// An outbox value: the webhook, and when the next attempt is due.
fn outbox_value(webhook: u64, due: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&webhook.to_be_bytes());
    v[8..].copy_from_slice(&due.to_be_bytes());
    v
}

/// The webhook and due time of an outbox value.
fn read_outbox(v: &[u8]) -> Option<(u64, u64)> {
    Some((be_u64(v.get(..8)?)?, be_u64(v.get(8..16)?)?))
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

    pub fn get_webhook(&self, id: u64) -> Result<Option<WebhookRecord>, StoreError> {
        match self.trees()?.webhooks.get(id.to_be_bytes())? {
            Some(v) => decode("webhook", &id.to_be_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Removes a webhook, its log and what it still had to deliver. Whether it existed.
    pub fn delete_webhook(&self, id: u64) -> Result<bool, StoreError> {
        let trees = self.trees()?;
        let existed = trees.webhooks.remove(id.to_be_bytes())?.is_some();
        let mut log = sled::Batch::default();
        let mut outbox = sled::Batch::default();
        for key in trees.deliveries.scan_prefix(id.to_be_bytes()).keys() {
            let key = key?;
            outbox.remove(&key[8..]);
            log.remove(key);
        }
        trees.deliveries.apply_batch(log)?;
        trees.outbox.apply_batch(outbox)?;
        Ok(existed)
    }

    /// Queues one delivery per (webhook that wants it, event); `body` makes an event's JSON for
    /// a delivery id and a webhook. Returns the deliveries dropped to keep the outbox at
    /// `outbox_max`.
    pub fn enqueue_deliveries<'a>(
        &self,
        video: VideoId,
        events: impl IntoIterator<Item = (EventKind, BodyFor<'a>)>,
        outbox_max: usize,
    ) -> Result<u64, StoreError> {
        let hooks = self.list_webhooks()?;
        if hooks.is_empty() {
            return Ok(0);
        }
        let trees = self.trees()?;
        let now = now_ms();
        for (kind, body) in events {
            for hook in hooks.iter().filter(|h| h.wants(video, kind)) {
                let id = trees.db.generate_id()?;
                let delivery = Delivery {
                    id,
                    webhook: hook.id,
                    video,
                    kind,
                    body: body(id, hook.id),
                    created_at: now,
                    state: DeliveryState::Pending,
                    attempts: Vec::new(),
                    next_attempt_at: now,
                };
                trees
                    .deliveries
                    .insert(log_key(hook.id, id), encode("delivery", &delivery)?)?;
                trees.outbox.insert(id.to_be_bytes(), &outbox_value(hook.id, now))?;
            }
        }
        let mut dropped = 0;
        while trees.outbox.len() > outbox_max {
            let Some((k, v)) = trees.outbox.pop_min()? else {
                break;
            };
            if let (Some(id), Some((hook, _))) = (be_u64(&k), read_outbox(&v)) {
                self.update_delivery(hook, id, |d| d.state = DeliveryState::Dropped)?;
            }
            dropped += 1;
        }
        for hook in &hooks {
            self.prune_log(hook.id)?;
        }
        Ok(dropped)
    }

    /// Deliveries whose next attempt is due at `now`, oldest first, at most `limit`.
    pub fn due_deliveries(&self, now: u64, limit: usize) -> Result<Vec<(WebhookRecord, Delivery)>, StoreError> {
        let trees = self.trees()?;
        let mut due = Vec::new();
        for entry in trees.outbox.iter() {
            if due.len() == limit {
                break;
            }
            let (k, v) = entry?;
            let (Some(id), Some((hook_id, due_at))) = (be_u64(&k), read_outbox(&v)) else {
                continue;
            };
            if due_at > now {
                continue;
            }
            let Some(v) = trees.deliveries.get(log_key(hook_id, id))? else {
                // Its log entry was pruned or its webhook deleted: nothing left to send.
                trees.outbox.remove(k)?;
                continue;
            };
            let delivery: Delivery = decode("delivery", &k, &v)?;
            if let Some(hook) = self.get_webhook(hook_id)? {
                due.push((hook, delivery));
            }
        }
        Ok(due)
    }

    /// Deliveries waiting in the outbox.
    pub fn outbox_len(&self) -> Result<usize, StoreError> {
        Ok(self.trees()?.outbox.len())
    }

    /// Records an attempt and what follows from it.
    pub fn record_attempt(
        &self,
        webhook: u64,
        delivery: u64,
        attempt: Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        self.update_delivery(webhook, delivery, |d| {
            d.attempts.push(attempt);
            match outcome {
                AttemptOutcome::Delivered => d.state = DeliveryState::Delivered,
                AttemptOutcome::GiveUp => d.state = DeliveryState::Failed,
                AttemptOutcome::RetryAt(at) => d.next_attempt_at = at,
            }
        })?;
        let outbox = &self.trees()?.outbox;
        match outcome {
            AttemptOutcome::RetryAt(at) => outbox.insert(delivery.to_be_bytes(), &outbox_value(webhook, at))?,
            _ => outbox.remove(delivery.to_be_bytes())?,
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
                decode("delivery", &k, &v)
            })
            .collect()
    }

    fn update_delivery(&self, webhook: u64, delivery: u64, f: impl FnOnce(&mut Delivery)) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let key = log_key(webhook, delivery);
        let Some(v) = trees.deliveries.get(key)? else {
            return Ok(());
        };
        let mut d: Delivery = decode("delivery", &key, &v)?;
        f(&mut d);
        trees.deliveries.insert(key, encode("delivery", &d)?)?;
        Ok(())
    }

    /// Keeps a webhook's log at its latest [`MAX_LOGGED_DELIVERIES`] entries.
    fn prune_log(&self, webhook: u64) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let keys: Vec<sled::IVec> = trees
            .deliveries
            .scan_prefix(webhook.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()?;
        for key in keys.iter().take(keys.len().saturating_sub(MAX_LOGGED_DELIVERIES)) {
            trees.deliveries.remove(key)?;
            trees.outbox.remove(&key[8..])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

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
        let body = |id: u64, hook: u64| format!("{{\"delivery\":{id},\"webhook\":{hook}}}");
        let body: BodyFor = &body;
        let events = [(EventKind::LineCrossed, body), (EventKind::ZoneEntered, body)];
        assert_eq!(store.enqueue_deliveries(video, events, 100).expect("queued"), 0);
        // The first webhook takes both, the second only the zone event.
        assert_eq!(store.outbox_len().expect("len"), 3);
        let due = store.due_deliveries(now_ms(), 10).expect("due");
        assert_eq!(due.len(), 3);
        let (hook, first) = &due[0];
        assert!(first.body.contains(&format!("\"delivery\":{}", first.id)));

        // A failed attempt waits; a delivered one leaves the outbox.
        let failed = Attempt {
            at: now_ms(),
            status: Some(500),
            error: None,
        };
        let later = now_ms() + 60_000;
        store
            .record_attempt(hook.id, first.id, failed, AttemptOutcome::RetryAt(later))
            .expect("recorded");
        assert_eq!(store.due_deliveries(now_ms(), 10).expect("due").len(), 2);
        assert_eq!(store.due_deliveries(later, 10).expect("due").len(), 3);
        let ok = Attempt {
            at: now_ms(),
            status: Some(200),
            error: None,
        };
        store
            .record_attempt(hook.id, first.id, ok, AttemptOutcome::Delivered)
            .expect("recorded");
        assert_eq!(store.outbox_len().expect("len"), 2);
        let log = store.deliveries(hook.id, 10).expect("log");
        let done = log.iter().find(|d| d.id == first.id).expect("in the log");
        assert_eq!((done.state, done.attempts.len()), (DeliveryState::Delivered, 2));

        // Over the bound, the oldest pending deliveries are dropped.
        let many: Vec<(EventKind, BodyFor)> = (0..5).map(|_| (EventKind::LineCrossed, body)).collect();
        assert_eq!(store.enqueue_deliveries(video, many, 4).expect("queued"), 3);
        assert_eq!(store.outbox_len().expect("len"), 4);
        let dropped = store.deliveries(all.id, 100).expect("log");
        assert!(dropped.iter().any(|d| d.state == DeliveryState::Dropped));

        // Deleting a webhook takes its log and its pending deliveries.
        assert!(store.delete_webhook(zones.id).expect("deleted"));
        assert!(store.deliveries(zones.id, 10).expect("log").is_empty());
        assert!(store
            .due_deliveries(u64::MAX, 100)
            .expect("due")
            .iter()
            .all(|(h, _)| h.id == all.id));
    }
}
