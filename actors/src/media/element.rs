//! Making GStreamer elements by factory name, with an error that says how to get a missing one.

use gstreamer as gst;

/// A GStreamer element whose plugin is not installed.
#[derive(Debug, thiserror::Error)]
#[error("GStreamer element '{0}' is missing (run `make setup`)")]
pub struct MissingElement(pub String);

/// A new element of `factory` with default properties.
pub fn element(factory: &str) -> Result<gst::Element, MissingElement> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MissingElement(factory.to_string()))
}
