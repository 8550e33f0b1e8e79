//! What a worker node and the coordinator say to each other, and its encoding.
//!
//! The worker speaks first: `Join` (its name, release, model digest, capacity) is answered with
//! acceptance or a reason for refusal; then a `Heartbeat` every interval the coordinator named, and
//! `Leave` when it shuts down. The coordinator's gate actor sits in the process group
//! [`COORDINATOR_GROUP`], where a worker finds it once its session is authenticated.

use std::time::Duration;

use ractor::RpcReplyPort;
use ractor_cluster::RactorClusterMessage;
use sightline_actors::wire::{Checked, Reader, Wire, WireError, Writer};

pub const COORDINATOR_GROUP: &str = "sightline.coordinator";

const MAX_TEXT: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// Unique in the cluster: ractor_cluster refuses a second session with a name already in use.
    pub name: String,
    /// The worker's Sightline release.
    pub release: String,
    /// sha256 of the worker's model file, hex.
    pub model_sha256: String,
    /// Detector workers it will run; a node offering none is refused.
    pub workers: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinReply {
    Accepted { heartbeat: Duration },
    Refused(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Beat {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BeatReply {
    /// False once the coordinator has dropped this node: it must leave (and may join again).
    pub known: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leave {
    pub name: String,
}

/// Variants are matched by name across nodes: renaming one breaks mixed-release clusters.
#[derive(RactorClusterMessage)]
pub enum CoordinatorMsg {
    #[rpc]
    Join(Checked<JoinRequest>, RpcReplyPort<Checked<JoinReply>>),
    #[rpc]
    Heartbeat(Checked<Beat>, RpcReplyPort<Checked<BeatReply>>),
    #[rpc]
    Leave(Checked<Leave>, RpcReplyPort<()>),
}

impl Wire for JoinRequest {
    const TAG: u8 = 10;
    const NAME: &'static str = "join_request";
    fn encode(&self, out: &mut Writer) {
        out.str(&self.name);
        out.str(&self.release);
        out.str(&self.model_sha256);
        out.u32(self.workers);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(JoinRequest {
            name: input.string(MAX_TEXT)?,
            release: input.string(MAX_TEXT)?,
            model_sha256: input.string(MAX_TEXT)?,
            workers: input.u32()?,
        })
    }
}

impl Wire for JoinReply {
    const TAG: u8 = 11;
    const NAME: &'static str = "join_reply";
    fn encode(&self, out: &mut Writer) {
        match self {
            JoinReply::Accepted { heartbeat } => {
                out.u8(0);
                out.u64(u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX));
            }
            JoinReply::Refused(why) => {
                out.u8(1);
                out.str(why);
            }
        }
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match input.u8()? {
            0 => {
                let ms = input.u64()?;
                if !(10..=60_000).contains(&ms) {
                    return Err(WireError(format!("heartbeat interval {ms} ms is outside 10..60000")));
                }
                Ok(JoinReply::Accepted {
                    heartbeat: Duration::from_millis(ms),
                })
            }
            1 => Ok(JoinReply::Refused(input.string(MAX_TEXT)?)),
            other => Err(WireError(format!("unknown join reply {other}"))),
        }
    }
}

impl Wire for Beat {
    const TAG: u8 = 12;
    const NAME: &'static str = "heartbeat";
    fn encode(&self, out: &mut Writer) {
        out.str(&self.name);
        out.u64(self.seq);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Beat {
            name: input.string(MAX_TEXT)?,
            seq: input.u64()?,
        })
    }
}

impl Wire for BeatReply {
    const TAG: u8 = 13;
    const NAME: &'static str = "heartbeat_reply";
    fn encode(&self, out: &mut Writer) {
        out.u8(u8::from(self.known));
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match input.u8()? {
            0 => Ok(BeatReply { known: false }),
            1 => Ok(BeatReply { known: true }),
            other => Err(WireError(format!("heartbeat reply flag {other} is not 0 or 1"))),
        }
    }
}

impl Wire for Leave {
    const TAG: u8 = 14;
    const NAME: &'static str = "leave";
    fn encode(&self, out: &mut Writer) {
        out.str(&self.name);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Leave {
            name: input.string(MAX_TEXT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::BytesConvertable;

    fn round_trip<T: Wire + PartialEq + std::fmt::Debug + Clone>(value: T) {
        let bytes = Checked::new(value.clone()).into_bytes();
        assert_eq!(Checked::<T>::from_bytes(bytes).0, Ok(value));
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(JoinRequest {
            name: "worker-a".into(),
            release: "0.1.0".into(),
            model_sha256: "ab".repeat(32),
            workers: 2,
        });
        round_trip(JoinReply::Accepted {
            heartbeat: Duration::from_millis(500),
        });
        round_trip(JoinReply::Refused("model differs".into()));
        round_trip(Beat {
            name: "worker-a".into(),
            seq: 42,
        });
        round_trip(BeatReply { known: true });
        round_trip(Leave { name: "w".into() });
    }

    #[test]
    fn a_heartbeat_is_not_taken_for_a_join() {
        let bytes = Checked::new(Beat {
            name: "w".into(),
            seq: 1,
        })
        .into_bytes();
        assert!(Checked::<JoinRequest>::from_bytes(bytes).0.is_err());
    }
}
