//! Events published to an MQTT broker (`mqtt_url`): each event of a job's rules on
//! `sightline/events/<kind>` (QoS 1) as it happens, as `{"id", "video", "event"}`, and a retained
//! summary of each video's counts on `sightline/videos/<id>/summary` whenever its rules have been
//! evaluated to the end, so a subscriber that comes later still finds it.
//!
//! `id` is the event's delivery id, the one webhooks send as `X-Sightline-Delivery`: derived from
//! the event, so QoS 1's repeats and a job retried after a crash publish an event under the id
//! it had, and a subscriber drops repeats by it.

use std::time::Duration;

use poem_openapi::types::ToJSON;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use sightline_actors::analytics::{count, Event, Rules};
use sightline_actors::store::{VideoId, VideoRecord};
use sightline_actors::telemetry;

use crate::api::analytics_event_view;
use crate::webhooks::delivery_id;

/// Messages waiting for the connection at most; more are dropped (counted), never queued
/// without bound while the broker is away.
const QUEUE: usize = 1000;

#[derive(Clone)]
pub struct Publisher {
    client: AsyncClient,
}

impl Publisher {
    /// Connects in the background (and reconnects, every 2 s while the broker is away). `url`
    /// passed `config::check_mqtt_url`.
    pub fn start(url: &str) -> Publisher {
        let parsed = reqwest::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or_default()
            .to_string();
        let port = parsed.as_ref().and_then(|u| u.port()).unwrap_or(1883);
        let mut options = MqttOptions::new(format!("sightline-{}", std::process::id()), host, port);
        options.set_keep_alive(Duration::from_secs(30));
        if let Some(u) = parsed.as_ref().filter(|u| !u.username().is_empty()) {
            options.set_credentials(u.username(), u.password().unwrap_or_default());
        }
        let (client, mut events) = AsyncClient::new(options, QUEUE);
        tokio::spawn(async move {
            let mut connected = false;
            loop {
                match events.poll().await {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        tracing::info!("connected to the MQTT broker");
                    }
                    Ok(MqttEvent::Incoming(Packet::PubAck(_))) => {
                        metrics::counter!(telemetry::MQTT_MESSAGES_TOTAL, "outcome" => "published").increment(1);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if connected {
                            tracing::warn!("lost the MQTT broker: {e}");
                        }
                        connected = false;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
        Publisher { client }
    }

    /// Events as a job's rules raise them.
    pub fn publish_events(&self, video: &VideoRecord, events: &[Event]) {
        for e in events {
            let payload = event_payload(video.id, &video.class_names, e);
            self.send(format!("sightline/events/{}", e.kind.as_str()), false, payload);
        }
    }

    /// The video's counts from all the events of its rules, retained.
    pub fn publish_summary(&self, video: &VideoRecord, rules: &Rules, events: &[Event]) {
        let id = video.id.to_string();
        let counts = count(rules, events, video.duration_ms.max(1), video.duration_ms);
        let lines: serde_json::Map<String, serde_json::Value> = counts
            .lines
            .iter()
            .map(|l| {
                let mut by_direction = serde_json::Map::new();
                for ((direction, _), n) in &l.totals {
                    let total = by_direction
                        .get(direction)
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0);
                    by_direction.insert(direction.clone(), (total + n).into());
                }
                (l.rule.clone(), by_direction.into())
            })
            .collect();
        let zones: serde_json::Map<String, serde_json::Value> = counts
            .zones
            .iter()
            .map(|z| {
                (
                    z.rule.clone(),
                    serde_json::json!({"entries": z.entries, "exits": z.exits}),
                )
            })
            .collect();
        let summary = serde_json::json!({"video": id, "events": events.len(), "lines": lines, "zones": zones});
        self.send(format!("sightline/videos/{id}/summary"), true, summary);
    }

    fn send(&self, topic: String, retain: bool, payload: serde_json::Value) {
        if self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload.to_string())
            .is_err()
        {
            metrics::counter!(telemetry::MQTT_MESSAGES_TOTAL, "outcome" => "dropped").increment(1);
        }
    }
}

/// An event's message: `{"id", "video", "event"}`, `id` its delivery id as a decimal string (as
/// webhooks' `delivery`).
fn event_payload(video: VideoId, names: &[String], e: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": delivery_id(video, e).to_string(),
        "video": video.to_string(),
        "event": analytics_event_view(e, names).to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_actors::analytics::EventKind;

    #[test]
    fn an_event_message_carries_the_webhooks_delivery_id() {
        let e = Event {
            kind: EventKind::LineCrossed,
            rule: "middle".into(),
            track_id: 3,
            class_id: 0,
            frame: 40,
            time_ms: 1600,
            position: [0.5, 0.5],
            direction: Some("in".into()),
            dwell_ms: None,
        };
        let video = VideoId::from_u64(9);
        let payload = event_payload(video, &["person".into()], &e);
        assert_eq!(payload["id"], delivery_id(video, &e).to_string());
        assert_eq!(payload["video"], video.to_string());
        assert_eq!(payload["event"]["rule"], "middle");
    }
}
