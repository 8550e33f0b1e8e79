//! Events pushed to webhooks: queued in the store's outbox when a job's rules raise them, then
//! POSTed by one background task, signed, at least once, with exponential back-off and a cap on
//! attempts. The outbox is in sled, so a restart picks up where the last run stopped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use hmac::{KeyInit, Mac};
use poem_openapi::types::ToJSON;
use sightline_actors::analytics::Event;
use sightline_actors::store::{now_ms, Attempt, AttemptOutcome, BodyFor, Delivery, Store, VideoRecord, WebhookRecord};
use sightline_actors::telemetry;

use crate::api::analytics_event_view;

/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the outbox is looked at, and how many deliveries are sent at once.
const TICK: Duration = Duration::from_millis(500);
const AT_ONCE: usize = 16;

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
    let items = events.iter().zip(&bodies).map(|(e, body)| (e.kind, body as BodyFor));
    // Flushed at once: the outbox is a promise to deliver, and must outlive a crash right after.
    match store
        .enqueue_deliveries(video.id, items, outbox_max)
        .and_then(|d| store.flush().map(|_| d))
    {
        Ok(0) => {}
        Ok(dropped) => {
            metrics::counter!(telemetry::WEBHOOK_DELIVERIES_TOTAL, "outcome" => "dropped").increment(dropped);
            tracing::warn!(
                dropped,
                "the webhook outbox is full: its oldest deliveries were dropped"
            );
        }
        Err(e) => tracing::warn!(video = %video.id, "events could not be queued for webhooks: {e}"),
    }
}

/// Sends what is due, forever.
pub fn spawn(store: Store, max_attempts: usize) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("sightline/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!("webhooks are off: no HTTP client ({e})");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(TICK).await;
            let s = store.clone();
            let due = match tokio::task::spawn_blocking(move || {
                metrics::gauge!(telemetry::WEBHOOK_OUTBOX).set(s.outbox_len().unwrap_or(0) as f64);
                s.due_deliveries(now_ms(), AT_ONCE)
            })
            .await
            {
                Ok(Ok(due)) => due,
                Ok(Err(e)) => {
                    tracing::warn!("the webhook outbox could not be read: {e}");
                    continue;
                }
                Err(_) => continue,
            };
            let sends = due.into_iter().map(|(hook, d)| {
                let (client, store) = (client.clone(), store.clone());
                async move {
                    let (attempt, outcome) = send(&client, &hook, &d, max_attempts).await;
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Err(e) = store.record_attempt(hook.id, d.id, attempt, outcome) {
                            tracing::warn!(delivery = d.id, "a webhook attempt could not be recorded: {e}");
                        }
                    })
                    .await;
                }
            });
            join_all(sends).await;
        }
    });
}

/// One attempt at one delivery.
async fn send(
    client: &reqwest::Client,
    hook: &WebhookRecord,
    d: &Delivery,
    max_attempts: usize,
) -> (Attempt, AttemptOutcome) {
    let at = now_ms();
    let result = client
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&hook.secret, d.body.as_bytes()))
        .header(DELIVERY_HEADER, d.id.to_string())
        .header(TIMESTAMP_HEADER, (at / 1000).to_string())
        .body(d.body.clone())
        .send()
        .await;
    let (status, error) = match result {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!("the receiver answered {}", r.status())),
        ),
        Err(e) => (None, Some(reason(&e))),
    };
    let attempts = d.attempts.len() + 1;
    let outcome = match (&error, attempts >= max_attempts) {
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

/// Why a request got no answer, in a sentence (reqwest's own text nests its causes).
fn reason(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
