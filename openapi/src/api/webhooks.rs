//! Webhooks: where the events of jobs' rules are POSTed, signed, and how each delivery went.
//! A target the server's policy refuses (loopback, private, link-local… unless
//! `webhook_allow_private` or `webhook_allow_networks` allow it) is refused here with 422, and
//! a URL's password is never shown back.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use sightline_actors::store::{Delivery, DeliveryState, WebhookRecord};

use super::analytics::AnalyticsEventKind;
use super::auth::TokenIfSet;
use super::error::ApiError;
use super::failure::{Failure, Listing, Lookup, WebhookCreation, WebhookDeletion};
use super::video_id::VideoIdParam;
use crate::state::SharedState;
use crate::webhook_target::{masked, TargetPolicy};

#[derive(Tags)]
enum ApiTags {
    /// Events pushed to other systems as they happen.
    Webhooks,
}

/// Webhooks at most: every job's events go to each, and each keeps a log.
const MAX_WEBHOOKS: usize = 100;

pub struct WebhooksApi {
    pub state: SharedState,
}

/// Where to send events, and which.
#[derive(Debug, Clone, Object)]
pub struct WebhookRequest {
    /// An `http://` or `https://` address that takes a JSON POST. Loopback, private,
    /// link-local, shared and unspecified addresses (what the host resolves to) are refused
    /// (422) unless the server's `webhook_allow_private` or `webhook_allow_networks` allow them,
    /// and so is a host that does not resolve. A password in it (`https://user:password@host/…`) is sent as basic auth and shown as `***`.
    pub url: String,
    /// 16 to 256 characters; every body is signed with it: `X-Sightline-Signature:
    /// sha256=<hex of HMAC-SHA256 of the body>`. Never shown back.
    #[oai(validator(min_length = 16, max_length = 256))]
    pub secret: String,
    /// Kinds to send; empty or absent: every kind.
    #[oai(default)]
    pub kinds: Vec<AnalyticsEventKind>,
    /// Only this video's events; absent: every video's.
    pub video: Option<VideoIdParam>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Webhook {
    pub id: u64,
    /// Its password, if any, as `***`.
    pub url: String,
    pub kinds: Vec<AnalyticsEventKind>,
    pub video: Option<String>,
    /// Unix ms.
    pub created_at: u64,
}

impl From<WebhookRecord> for Webhook {
    fn from(w: WebhookRecord) -> Self {
        Webhook {
            id: w.id,
            url: masked(&w.url),
            kinds: w.kinds.into_iter().map(Into::into).collect(),
            video: w.video.map(|v| v.to_string()),
            created_at: w.created_at,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed (`webhook_max_attempts`).
    Failed,
    /// Pushed out of a full outbox (`webhook_outbox_max`) before it was delivered.
    Dropped,
}

impl From<DeliveryState> for DeliveryStatus {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Pending => DeliveryStatus::Pending,
            DeliveryState::Delivered => DeliveryStatus::Delivered,
            DeliveryState::Failed => DeliveryStatus::Failed,
            DeliveryState::Dropped => DeliveryStatus::Dropped,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryAttempt {
    /// Unix ms.
    pub at: u64,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDelivery {
    /// Sent as `X-Sightline-Delivery` and as the body's `delivery`: derived from the event (its
    /// video, kind, rule, track, frame and time), so it is the same on every attempt and when a
    /// job run again raises the event again, and receivers drop repeats by it. Below 2^53.
    pub id: u64,
    pub state: DeliveryStatus,
    pub kind: AnalyticsEventKind,
    pub video: String,
    /// Unix ms.
    pub created_at: u64,
    pub attempts: Vec<DeliveryAttempt>,
    /// Unix ms of the next attempt, while pending.
    pub next_attempt_at: Option<u64>,
}

impl From<Delivery> for WebhookDelivery {
    fn from(d: Delivery) -> Self {
        WebhookDelivery {
            id: d.id,
            state: d.state.into(),
            kind: d.kind.into(),
            video: d.video.to_string(),
            created_at: d.created_at,
            attempts: d
                .attempts
                .into_iter()
                .map(|a| DeliveryAttempt {
                    at: a.at,
                    status: a.status,
                    error: a.error,
                })
                .collect(),
            next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
        }
    }
}

#[derive(ApiResponse)]
enum Created {
    /// Created: events are sent to it from now on.
    #[oai(status = 201)]
    Created(Json<Webhook>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted, with its log and what it still had to receive.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Create a webhook.
    ///
    /// From now on, every event that a job's rules raise (and that the webhook's `kinds` and
    /// `video` select) is POSTed to `url` as JSON `{delivery, webhook, video, event}`, with the
    /// headers `X-Sightline-Signature`, `X-Sightline-Delivery` and `X-Sightline-Timestamp`
    /// (Unix seconds). At least once: a failed attempt is tried again after 1 s, 2 s, 4 s, … up to
    /// `webhook_max_attempts`; the outbox is kept across restarts. `delivery` (and the header) is
    /// derived from the event, so an event raised again (a job retried after a crash) has the
    /// id it had, and is not queued again while the webhook has it pending or delivered. Each
    /// webhook is sent to on its own, one request at a time, so a slow receiver delays only its
    /// own deliveries. Redirects are not followed (a 3xx is a failed attempt). Rules set later
    /// on a processed video are not sent: their events describe the past, and are queried.
    ///
    /// The target is checked here and again before each delivery connects: a host that
    /// resolves to a loopback, private, link-local, shared or unspecified address is refused
    /// (422 here; a failed attempt saying why in the log) unless the server's
    /// `webhook_allow_private` is true or its `webhook_allow_networks` lists the address.
    #[oai(path = "/webhooks", method = "post", operation_id = "createWebhook")]
    async fn create(
        &self,
        _token: TokenIfSet,
        body: Json<WebhookRequest>,
    ) -> Result<Created, Failure<WebhookCreation>> {
        let req = body.0;
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| ApiError::bad_request(format!("url '{}': {e}", masked(&req.url))))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ApiError::bad_request(format!(
                "url '{}': webhooks take http:// or https:// addresses",
                masked(url.as_str())
            ))
            .into());
        }
        if self.state.store.list_webhooks()?.len() >= MAX_WEBHOOKS {
            return Err(ApiError::bad_request(format!("at most {MAX_WEBHOOKS} webhooks; delete one first")).into());
        }
        let video = req.video.map(|v| v.0);
        if let Some(v) = video {
            if self.state.store.get_video(v)?.is_none() {
                return Err(ApiError::bad_request(format!("video: no video {v}")).into());
            }
        }
        let config = &self.state.config;
        let policy = TargetPolicy::new(config.webhook_allow_private, &config.webhook_allow_networks);
        if let Err(why) = policy.check_target(&url).await {
            return Err(ApiError::unprocessable(format!("url '{}': {why}", masked(url.as_str()))).into());
        }
        let kinds = req.kinds.into_iter().map(Into::into).collect();
        let record = self
            .state
            .store
            .create_webhook(url.to_string(), req.secret, kinds, video)?;
        tracing::info!(webhook = record.id, url = %masked(&record.url), "webhook created");
        Ok(Created::Created(Json(record.into())))
    }

    /// List webhooks.
    ///
    /// Every webhook, oldest first; secrets are never shown.
    #[oai(path = "/webhooks", method = "get", operation_id = "listWebhooks")]
    async fn list(&self) -> Result<Json<Vec<Webhook>>, Failure<Listing>> {
        Ok(Json(
            self.state.store.list_webhooks()?.into_iter().map(Into::into).collect(),
        ))
    }

    /// Delete a webhook.
    ///
    /// Nothing more is sent to it, including deliveries still waiting.
    #[oai(path = "/webhooks/:id", method = "delete", operation_id = "deleteWebhook")]
    async fn delete(
        &self,
        _token: TokenIfSet,
        /// The webhook's id, as `createWebhook` answered it.
        id: Path<u64>,
    ) -> Result<Deleted, Failure<WebhookDeletion>> {
        if !self.state.store.delete_webhook(id.0)? {
            return Err(ApiError::not_found(format!("no webhook {}", id.0)).into());
        }
        Ok(Deleted::Deleted)
    }

    /// List a webhook's deliveries.
    ///
    /// Newest first, each with its attempts (when, the receiver's status, the error) and where it
    /// stands. The latest 1000 are kept.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        /// The webhook's id, as `createWebhook` answered it.
        id: Path<u64>,
        /// At most this many, 1..1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<WebhookDelivery>>, Failure<Lookup>> {
        if self.state.store.get_webhook(id.0)?.is_none() {
            return Err(ApiError::not_found(format!("no webhook {}", id.0)).into());
        }
        let limit = limit.0.unwrap_or(100) as usize;
        let store = self.state.store.clone();
        let log = tokio::task::spawn_blocking(move || store.deliveries(id.0, limit))
            .await
            .map_err(ApiError::internal)??;
        Ok(Json(log.into_iter().map(Into::into).collect()))
    }
}
