//! The server's event sink: a job's events are queued for the webhooks and published to the MQTT
//! broker as its rules raise them; each time a video's rules have been evaluated to the end, its
//! counts are retained on the broker.
//!
//! New rules on a processed video do not raise events again: those moments are in the past, and a
//! receiver would take them for new ones. They do update the retained counts.

use sightline_actors::analytics::Event;
use sightline_actors::job::EventSink;
use sightline_actors::store::{RulesRecord, Store, VideoRecord};

use crate::mqtt::Publisher;
use crate::webhooks;

pub struct Notifier {
    pub store: Store,
    /// The webhook outbox's bound (`webhook_outbox_max`).
    pub outbox_max: usize,
    /// With `mqtt_url` set.
    pub mqtt: Option<Publisher>,
}

impl EventSink for Notifier {
    fn raised(&self, video: &VideoRecord, events: &[Event]) {
        webhooks::enqueue(&self.store, video, events, self.outbox_max);
        if let Some(mqtt) = &self.mqtt {
            mqtt.publish_events(video, events);
        }
    }

    fn analysed(&self, video: &VideoRecord, record: &RulesRecord) {
        let Some(mqtt) = &self.mqtt else { return };
        match self.store.all_events(video.id) {
            Ok(events) => mqtt.publish_summary(video, &record.rules, &events),
            Err(e) => tracing::warn!(video = %video.id, "the video's counts could not be published: {e}"),
        }
    }
}
