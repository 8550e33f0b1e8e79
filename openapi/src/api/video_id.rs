//! A video id as a path or query parameter, or a JSON field: parsed (and refused with 400) before a handler runs,
//! and documented in the spec as the 16 hex digits it is.

use std::borrow::Cow;
use std::str::FromStr;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use sightline_actors::store::VideoId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoIdParam(pub VideoId);

impl Type for VideoIdParam {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_video_id".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            pattern: Some("^[0-9a-f]{16}$".into()),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromParameter for VideoIdParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        VideoId::from_str(value)
            .map(VideoIdParam)
            .map_err(|e| ParseError::custom(format!("malformed video id '{value}': {e}")))
    }
}

impl ParseFromJSON for VideoIdParam {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        match value {
            Some(serde_json::Value::String(s)) => Self::parse_from_parameter(&s),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for VideoIdParam {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.to_string()))
    }
}
