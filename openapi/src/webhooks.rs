//! Events pushed to webhooks: queued in the store's outbox when a job's rules raise them, then
//! POSTed, signed, at least once, with exponential back-off and a cap on attempts. The outbox is
//! in sled, so a restart picks up where the last run stopped.
//!
//! ```text
//!  job's rules ──enqueue──▶ outbox (sled, per webhook, oldest first, ≤ webhook_outbox_max)
//!                               │            │            │
//!  supervisor: one sender   sender(A)    sender(B)    sender(C)   ← started and stopped as
//!  per webhook                  │            │            │          webhooks come and go
//!                          one request  one request  one request
//!                          at a time    at a time    at a time
//! ```
//!
//! Each webhook has its own sender, holding at most [`QUEUE`] of its deliveries in memory and
//! one request in flight, so a receiver that never answers delays only its own deliveries.
//!
//! An event's delivery id ([`delivery_id`]) is derived from what identifies the event, so a job
//! run again after a crash raises its events under the ids they had, and the store does not
//! queue an event again for a webhook that has it pending or delivered.
//!
//! Before each request the target is checked against `webhook_allow_private` and
//! `webhook_allow_networks` (see [`crate::webhook_target`]); redirects are not followed, and no
//! proxy from the environment is used, so the address checked is the address connected to.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use poem_openapi::types::ToJSON;
use sha2::Digest;
use sightline_actors::analytics::Event;
use sightline_actors::store::{
    now_ms, Attempt, AttemptOutcome, Delivery, Outgoing, Store, VideoId, VideoRecord, WebhookRecord,
};
use sightline_actors::telemetry;
use tokio::task::JoinHandle;

use crate::api::analytics_event_view;
use crate::config::ServerConfig;
use crate::webhook_target::{CheckedResolver, TargetError, TargetPolicy};

/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries one webhook's sender holds in memory at most: what it read from the outbox to send
/// next. The rest wait in the store.
const QUEUE: usize = 32;
/// How often an idle sender looks for new deliveries (one lookup in the store).
const POLL: Duration = Duration::from_millis(100);
/// How often the supervisor looks for webhooks created or deleted.
const DISCOVER: Duration = Duration::from_millis(250);
/// The outbox gauge is set every this many discoveries (counting the outbox reads all of it).
const GAUGE_EVERY: u32 = 8;

pub const SIGNATURE_HEADER: &str = "x-sightline-signature";
pub const DELIVERY_HEADER: &str = "x-sightline-delivery";
pub const TIMESTAMP_HEADER: &str = "x-sightline-timestamp";

/// `sha256=<hex of HMAC-SHA256 of the body, keyed with the secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The wait before the next attempt, after `attempts` attempts failed.
pub fn backoff(attempts: usize) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20) as u32;
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF)
}

/// An event's delivery id: the first 8 bytes of a SHA-256 over what identifies the event (its
/// video, kind, rule, track, frame and time), in a length-prefixed encoding so no two events
/// encode alike, kept to 53 bits so it is exact as a JSON number in JavaScript. The same
/// event raised again (a job retried or resumed) has the same id; webhooks and MQTT carry it.
///
/// The time is in it for live sources: a source started again counts frames from the
/// start, but its stream time goes on, so a new event there never takes an old one's id.
pub fn delivery_id(video: VideoId, e: &Event) -> u64 {
    let mut h = sha2::Sha256::new();
    h.update(b"sightline-event-v1");
    h.update(video.as_u64().to_be_bytes());
    for text in [e.kind.as_str(), e.rule.as_str()] {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.update(e.track_id.to_be_bytes());
    h.update(e.frame.to_be_bytes());
    h.update(e.time_ms.to_be_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) >> 11
}

/// Queues the events a job's rules raised for every webhook that wants them.
pub fn enqueue(store: &Store, video: &VideoRecord, events: &[Event], outbox_max: usize) {
    let bodies: Vec<_> = events
        .iter()
        .map(|e| {
            let view = analytics_event_view(e, &video.class_names).to_json();
            let video_id = video.id.to_string();
            move |delivery: u64, webhook: u64| {
                serde_json::json!({
                    "delivery": delivery.to_string(),
                    "webhook": webhook.to_string(),
                    "video": video_id,
                    "event": view,
                })
                .to_string()
            }
        })
        .collect();
    let items = events.iter().zip(&bodies).map(|(e, body)| Outgoing {
        kind: e.kind,
        id: delivery_id(video.id, e),
        body,
    });
    // Flushed at once: the outbox is a promise to deliver, and must outlive a crash right after.
    match store
        .enqueue_deliveries(video.id, items, outbox_max)
        .and_then(|d| store.flush().map(|_| d))
    {
        Ok(done) => {
            if done.repeats > 0 {
                tracing::info!(
                    video = %video.id,
                    repeats = done.repeats,
                    "events raised again were not queued again for webhooks that have them"
                );
            }
            if done.dropped > 0 {
                metrics::counter!(telemetry::WEBHOOK_DELIVERIES_TOTAL, "outcome" => "dropped").increment(done.dropped);
                tracing::warn!(
                    dropped = done.dropped,
                    "the webhook outbox is full: its oldest deliveries were dropped"
                );
            }
        }
        Err(e) => tracing::warn!(video = %video.id, "events could not be queued for webhooks: {e}"),
    }
}

/// What every webhook's sender shares.
struct Sender {
    store: Store,
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    max_attempts: usize,
}

/// Starts the supervisor, which gives each webhook its sender, for as long as the server runs.
pub fn spawn(store: Store, config: &ServerConfig) {
    let policy = Arc::new(TargetPolicy::new(
        config.webhook_allow_private,
        &config.webhook_allow_networks,
    ));
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("sightline/", env!("CARGO_PKG_VERSION")))
        // A 3xx is an answer, not an address to go to: following it would reach a target the
        // policy never saw.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would connect on our behalf to wherever the name resolves for it.
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("webhooks are off: no HTTP client ({e})");
            return;
        }
    };
    let sender = Arc::new(Sender {
        store,
        client,
        policy,
        max_attempts: config.webhook_max_attempts,
    });
    tokio::spawn(supervise(sender));
}

/// Keeps one sender running per webhook: starts one for each webhook it finds (new, or left
/// with deliveries by an earlier run), stops those of deleted webhooks.
async fn supervise(sender: Arc<Sender>) {
    let store = sender.store.clone();
    match tokio::task::spawn_blocking(move || store.upgrade_webhook_outbox()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(
            deliveries = n,
            "the webhook outbox was rewritten in this version's layout"
        ),
        Ok(Err(e)) => tracing::warn!("the webhook outbox could not be upgraded: {e}"),
        Err(e) => tracing::warn!("the webhook outbox could not be upgraded: {e}"),
    }
    let mut senders: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let mut round = 0u32;
    loop {
        match sender.store.webhook_ids() {
            Ok(ids) => {
                let mut gone = Vec::new();
                senders.retain(|id, task| {
                    let keep = ids.contains(id) && !task.is_finished();
                    if !keep {
                        task.abort();
                        if !ids.contains(id) {
                            gone.push(*id);
                        }
                    }
                    keep
                });
                for id in ids {
                    senders
                        .entry(id)
                        .or_insert_with(|| tokio::spawn(deliver_to(sender.clone(), id)));
                }
                if !gone.is_empty() {
                    let store = sender.store.clone();
                    let swept = tokio::task::spawn_blocking(move || {
                        gone.iter().try_for_each(|id| store.remove_webhook_leftovers(*id))
                    })
                    .await;
                    if let Ok(Err(e)) = swept {
                        tracing::warn!("a deleted webhook's deliveries could not be removed: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("the webhooks could not be read: {e}"),
        }
        if round.is_multiple_of(GAUGE_EVERY) {
            let store = sender.store.clone();
            if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || store.outbox_len()).await {
                metrics::gauge!(telemetry::WEBHOOK_OUTBOX).set(n as f64);
            }
        }
        round = round.wrapping_add(1);
        tokio::time::sleep(DISCOVER).await;
    }
}

/// One webhook's sender: its due deliveries, oldest first, one request at a time; idle, it
/// waits for the next due time or for a delivery queued after the last one it saw.
async fn deliver_to(sender: Arc<Sender>, webhook: u64) {
    let store = &sender.store;
    loop {
        let hook = match store.get_webhook(webhook) {
            Ok(Some(hook)) => hook,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(webhook, "the webhook could not be read: {e}");
                tokio::time::sleep(DISCOVER).await;
                continue;
            }
        };
        // Read before the outbox: whatever is queued after this is seen by the wait below.
        let tail = store.outbox_tail(webhook).ok().flatten();
        let s = store.clone();
        let batch = match tokio::task::spawn_blocking(move || s.due_deliveries(webhook, now_ms(), QUEUE)).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => {
                tracing::warn!(webhook, "the webhook outbox could not be read: {e}");
                tokio::time::sleep(DISCOVER).await;
                continue;
            }
            Err(_) => return,
        };
        if batch.due.is_empty() {
            loop {
                tokio::time::sleep(POLL).await;
                let due = batch.next_due.is_some_and(|at| now_ms() >= at);
                if due || store.outbox_tail(webhook).ok().flatten() != tail {
                    break;
                }
            }
            continue;
        }
        for d in batch.due {
            let (attempt, outcome) = sender.attempt(&hook, &d).await;
            let s = store.clone();
            let recorded =
                tokio::task::spawn_blocking(move || s.record_attempt(hook.id, d.seq, attempt, outcome)).await;
            if let Ok(Err(e)) = recorded {
                tracing::warn!(webhook, delivery = d.id, "a webhook attempt could not be recorded: {e}");
            }
        }
    }
}

impl Sender {
    /// One attempt at one delivery.
    async fn attempt(&self, hook: &WebhookRecord, d: &Delivery) -> (Attempt, AttemptOutcome) {
        let at = now_ms();
        let (status, error) = match self.post(hook, d, at).await {
            Ok(status) => (Some(status), None),
            Err((status, why)) => (status, Some(why)),
        };
        let attempts = d.attempts.len() + 1;
        let outcome = match (&error, attempts >= self.max_attempts) {
            (None, _) => AttemptOutcome::Delivered,
            (Some(_), true) => AttemptOutcome::GiveUp,
            (Some(_), false) => AttemptOutcome::RetryAt(at + backoff(attempts).as_millis() as u64),
        };
        let label = match outcome {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::GiveUp => "failed",
            AttemptOutcome::RetryAt(_) => "retried",
        };
        metrics::counter!(telemetry::WEBHOOK_DELIVERIES_TOTAL, "outcome" => label).increment(1);
        if let Some(why) = &error {
            tracing::info!(
                webhook = hook.id,
                delivery = d.id,
                attempts,
                outcome = label,
                "webhook delivery failed: {why}"
            );
        }
        (Attempt { at, status, error }, outcome)
    }

    /// The request: the receiver's 2xx status, or the status (if it answered) and why it failed.
    async fn post(&self, hook: &WebhookRecord, d: &Delivery, at: u64) -> Result<u16, (Option<u16>, String)> {
        let url =
            reqwest::Url::parse(&hook.url).map_err(|e| (None, format!("the webhook's URL does not parse: {e}")))?;
        // An address in the URL is connected to as it is, never resolved: checked here.
        self.policy.check_url(&url).map_err(|e| (None, refused(&e)))?;
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&hook.secret, d.body.as_bytes()))
            .header(DELIVERY_HEADER, d.id.to_string())
            .header(TIMESTAMP_HEADER, (at / 1000).to_string())
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) if r.status().is_redirection() => Err((
                Some(r.status().as_u16()),
                format!("the receiver answered {} (redirects are not followed)", r.status()),
            )),
            Ok(r) => Err((
                Some(r.status().as_u16()),
                format!("the receiver answered {}", r.status()),
            )),
            Err(e) => Err((None, reason(e))),
        }
    }
}

fn refused(e: &TargetError) -> String {
    format!("not sent: {e}")
}

/// Why a request got no answer, in a sentence (reqwest's own text nests its causes); without
/// the URL, which the log beside it names, and which may carry a password.
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        // The policy refused every address the name resolved to: say that, not "dns error".
        if let Some(target) = s.downcast_ref::<TargetError>() {
            return refused(target);
        }
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_actors::analytics::EventKind;

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn back_off_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    fn zone_entered() -> Event {
        Event {
            kind: EventKind::ZoneEntered,
            rule: "door".into(),
            track_id: 1,
            class_id: 0,
            frame: 0,
            time_ms: 0,
            position: [0.5, 0.5],
            direction: None,
            dwell_ms: None,
        }
    }

    #[test]
    fn delivery_ids_follow_the_event_and_nothing_else() {
        let video = VideoId::from_u64(2_000_001);
        let e = zone_entered();
        let id = delivery_id(video, &e);
        assert_eq!(id, delivery_id(VideoId::from_u64(2_000_001), &zone_entered()));
        // Pinned (worked out apart, with Python's hashlib): receivers and stored logs hold these
        // ids, so the derivation may never change.
        assert_eq!(id, 0x8_2e1a_b90e_917b, "the derivation changed: {id:#x}");
        assert!(id < 1 << 53, "exact as a JSON number");
        // What the event looked like, beyond what identifies it, does not count.
        let seen_elsewhere = Event {
            position: [0.1, 0.9],
            class_id: 2,
            ..zone_entered()
        };
        assert_eq!(delivery_id(video, &seen_elsewhere), id);
        // Each part of its identity does.
        let others = [
            Event {
                kind: EventKind::ZoneLeft,
                ..zone_entered()
            },
            Event {
                rule: "doo".into(),
                ..zone_entered()
            },
            Event {
                track_id: 2,
                ..zone_entered()
            },
            Event {
                frame: 1,
                ..zone_entered()
            },
            Event {
                time_ms: 100,
                ..zone_entered()
            },
        ];
        let mut ids: Vec<u64> = others.iter().map(|o| delivery_id(video, o)).collect();
        ids.push(delivery_id(VideoId::from_u64(2_000_002), &e));
        ids.push(id);
        let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        // Lengths are encoded, so text cannot slide between the rule and the kind.
        let a = Event {
            rule: "ab".into(),
            ..zone_entered()
        };
        let b = Event {
            rule: "a".into(),
            ..zone_entered()
        };
        assert_ne!(delivery_id(video, &a), delivery_id(video, &b));
    }

    #[test]
    fn reasons_name_a_refused_target() {
        let e = TargetError::Refused {
            addr: "10.0.0.1".parse().expect("ip"),
            kind: crate::webhook_target::Restricted::Private,
        };
        let text = refused(&e);
        assert!(text.starts_with("not sent: 10.0.0.1 is a private address"), "{text}");
        assert!(text.contains("webhook_allow_networks"), "{text}");
    }
}
