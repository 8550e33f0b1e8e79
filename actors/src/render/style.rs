//! How boxes are drawn: outline thickness, opacity and whether labels are shown.

/// The largest outline thickness accepted, in pixels.
pub const MAX_THICKNESS: u32 = 32;

/// Drawing options for one job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderStyle {
    /// Outline thickness in pixels, 1..=32, drawn inside the box.
    pub thickness: u32,
    /// Opacity of outlines and label backgrounds, in (0, 1]. Text is always opaque.
    pub opacity: f32,
    /// Whether to draw a text label above each box.
    pub labels: bool,
}

impl Default for RenderStyle {
    fn default() -> Self {
        Self {
            thickness: 2,
            opacity: 1.0,
            labels: true,
        }
    }
}

impl RenderStyle {
    /// A validated style.
    pub fn new(thickness: u32, opacity: f32, labels: bool) -> Result<Self, RenderError> {
        let style = Self {
            thickness,
            opacity,
            labels,
        };
        style.validate()?;
        Ok(style)
    }

    /// Checks thickness (1..=32) and opacity ((0, 1], not NaN).
    pub fn validate(&self) -> Result<(), RenderError> {
        if self.thickness == 0 || self.thickness > MAX_THICKNESS {
            return Err(RenderError::Thickness(self.thickness));
        }
        // Written so that NaN fails too.
        if !(self.opacity > 0.0 && self.opacity <= 1.0) {
            return Err(RenderError::Opacity(self.opacity));
        }
        Ok(())
    }
}

/// What can go wrong setting up or using a [`super::Painter`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("box thickness must be between 1 and {MAX_THICKNESS} pixels, got {0}")]
    Thickness(u32),
    #[error("box opacity must be greater than 0 and at most 1, got {0}")]
    Opacity(f32),
    #[error("the built-in label font could not be loaded")]
    Font,
    #[error("frame buffer holds {got} bytes but a {width}x{height} I420 frame needs {expected}")]
    FrameTooShort {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        let s = RenderStyle::default();
        assert_eq!((s.thickness, s.opacity, s.labels), (2, 1.0, true));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn rejects_bad_thickness() {
        assert_eq!(RenderStyle::new(0, 1.0, true), Err(RenderError::Thickness(0)));
        assert_eq!(RenderStyle::new(33, 1.0, true), Err(RenderError::Thickness(33)));
        assert!(RenderStyle::new(1, 1.0, true).is_ok());
        assert!(RenderStyle::new(32, 1.0, true).is_ok());
    }

    #[test]
    fn rejects_bad_opacity() {
        for bad in [0.0, -0.1, 1.01, f32::NAN, f32::INFINITY] {
            assert!(
                matches!(RenderStyle::new(2, bad, true), Err(RenderError::Opacity(_))),
                "{bad}"
            );
        }
        assert!(RenderStyle::new(2, 0.01, false).is_ok());
        assert!(RenderStyle::new(2, 1.0, false).is_ok());
    }
}
