//! Where a video's events go beside the store (webhooks, an MQTT broker): the engine raises them,
//! the server decides who hears of them.

use crate::analytics::Event;
use crate::store::{RulesRecord, VideoRecord};

pub trait EventSink: Send + Sync {
    /// Events a job's rules just raised on `video`, stored already, in the order they happened.
    fn raised(&self, video: &VideoRecord, events: &[Event]);

    /// The video's rules have been evaluated to the end (by its job, or over its stored tracks):
    /// `record` and all its events are in the store.
    fn analysed(&self, video: &VideoRecord, record: &RulesRecord);
}
