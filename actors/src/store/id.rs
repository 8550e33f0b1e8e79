//! `VideoId`: the key of a video everywhere (store, URLs, stream folders).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A video's id: a `u64` from sled's `generate_id`, written as exactly 16 lowercase hex digits.
///
/// The fixed-width form sorts like the number, is safe in URLs and file names, and is the only
/// form `FromStr` accepts, so a string that parses always round-trips to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VideoId(u64);

/// Why a string is not a [`VideoId`]. The API answers these with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseVideoIdError {
    #[error("a video id has exactly 16 characters, got {0}")]
    Length(usize),
    #[error("a video id is made of lowercase hex digits (0-9, a-f) only")]
    NotLowerHex,
}

impl VideoId {
    pub const fn from_u64(raw: u64) -> Self {
        Self(raw)
    }

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Big-endian bytes: the key prefix in every tree, so one video's entries are contiguous.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub(crate) fn from_be_slice(bytes: &[u8]) -> Option<Self> {
        let raw: [u8; 8] = bytes.try_into().ok()?;
        Some(Self(u64::from_be_bytes(raw)))
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for VideoId {
    type Err = ParseVideoIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(ParseVideoIdError::Length(s.len()));
        }
        // from_str_radix alone would accept uppercase and a leading '+'.
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ParseVideoIdError::NotLowerHex);
        }
        u64::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| ParseVideoIdError::NotLowerHex)
    }
}

impl Serialize for VideoId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VideoId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_16_lowercase_hex() {
        assert_eq!(VideoId::from_u64(0).to_string(), "0000000000000000");
        assert_eq!(VideoId::from_u64(0xabc).to_string(), "0000000000000abc");
        assert_eq!(VideoId::from_u64(u64::MAX).to_string(), "ffffffffffffffff");
    }

    #[test]
    fn parse_round_trips() {
        for raw in [0, 1, 0xdead_beef, u64::MAX] {
            let id = VideoId::from_u64(raw);
            assert_eq!(id.to_string().parse::<VideoId>(), Ok(id));
        }
    }

    #[test]
    fn parse_rejects_everything_else() {
        assert_eq!("".parse::<VideoId>(), Err(ParseVideoIdError::Length(0)));
        assert_eq!("abc".parse::<VideoId>(), Err(ParseVideoIdError::Length(3)));
        assert_eq!(
            "00000000000000000".parse::<VideoId>(),
            Err(ParseVideoIdError::Length(17))
        );
        assert_eq!(
            "000000000000000A".parse::<VideoId>(),
            Err(ParseVideoIdError::NotLowerHex)
        );
        assert_eq!(
            "+00000000000000a".parse::<VideoId>(),
            Err(ParseVideoIdError::NotLowerHex)
        );
        assert_eq!(
            "00000000000000g0".parse::<VideoId>(),
            Err(ParseVideoIdError::NotLowerHex)
        );
        assert_eq!(
            "../../etc/passwd".parse::<VideoId>(),
            Err(ParseVideoIdError::NotLowerHex)
        );
        // 16 bytes but not 16 characters: the length check is on bytes, the char check catches it.
        assert_eq!("ééééééé00".parse::<VideoId>(), Err(ParseVideoIdError::NotLowerHex));
    }

    #[test]
    fn serde_uses_the_hex_form() {
        let id = VideoId::from_u64(42);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"000000000000002a\"");
        assert_eq!(serde_json::from_str::<VideoId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<VideoId>("\"42\"").is_err());
        assert!(serde_json::from_str::<VideoId>("42").is_err());
    }
}
