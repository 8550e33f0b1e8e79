//! The two YOLO output layouts users bring, recognised from the output tensor's shape.

use std::fmt;

/// How a model lays out its raw predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// `[1, N, 5+C]`: per row cx, cy, w, h, objectness, C class scores (YOLOv3/4/5/7).
    RowsWithObjectness { classes: usize },
    /// `[1, 4+C, N]`: per column cx, cy, w, h, C class scores, no objectness (YOLOv8/YOLO11).
    ColumnsNoObjectness { classes: usize },
}

/// The output shape fits neither layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLayout {
    pub shape: Vec<i64>,
    pub classes: Option<usize>,
}

impl fmt::Display for UnknownLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "output shape {:?} is neither [1, N, 5+C] (YOLOv3-7) nor [1, 4+C, N] (YOLOv8/11)",
            self.shape
        )?;
        if let Some(c) = self.classes {
            write!(f, " for the {c} class names known")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownLayout {}

impl OutputLayout {
    /// Recognises the layout from a shape whose dynamic dimensions are negative. `classes` is the
    /// number of class names when known; without it the smaller dimension is taken as the
    /// per-box one, since a model predicts far more boxes than it has classes.
    pub fn infer(shape: &[i64], classes: Option<usize>) -> Result<Self, UnknownLayout> {
        let unknown = || UnknownLayout {
            shape: shape.to_vec(),
            classes,
        };
        let &[batch, a, b] = shape else {
            return Err(unknown());
        };
        if batch > 1 {
            return Err(unknown());
        }
        let rows = |c: usize| OutputLayout::RowsWithObjectness { classes: c };
        let cols = |c: usize| OutputLayout::ColumnsNoObjectness { classes: c };
        match classes {
            Some(c) if b == 5 + c as i64 => Ok(rows(c)),
            Some(c) if a == 4 + c as i64 => Ok(cols(c)),
            Some(_) => Err(unknown()),
            None if b > 5 && (a < 0 || a > b) => Ok(rows((b - 5) as usize)),
            None if a > 4 && (b < 0 || b > a) => Ok(cols((a - 4) as usize)),
            None => Err(unknown()),
        }
    }

    pub fn classes(&self) -> usize {
        match *self {
            OutputLayout::RowsWithObjectness { classes } | OutputLayout::ColumnsNoObjectness { classes } => classes,
        }
    }

    /// Values each box carries.
    pub fn values_per_box(&self) -> usize {
        match *self {
            OutputLayout::RowsWithObjectness { classes } => 5 + classes,
            OutputLayout::ColumnsNoObjectness { classes } => 4 + classes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_layouts_with_and_without_names() {
        use OutputLayout::*;
        assert_eq!(
            OutputLayout::infer(&[1, 2535, 85], Some(80)),
            Ok(RowsWithObjectness { classes: 80 })
        );
        assert_eq!(
            OutputLayout::infer(&[1, 2535, 85], None),
            Ok(RowsWithObjectness { classes: 80 })
        );
        assert_eq!(
            OutputLayout::infer(&[1, 84, 8400], Some(80)),
            Ok(ColumnsNoObjectness { classes: 80 })
        );
        assert_eq!(
            OutputLayout::infer(&[1, 84, 8400], None),
            Ok(ColumnsNoObjectness { classes: 80 })
        );
        assert_eq!(
            OutputLayout::infer(&[-1, 84, -1], None),
            Ok(ColumnsNoObjectness { classes: 80 })
        );
        assert_eq!(
            OutputLayout::infer(&[1, -1, 6], None),
            Ok(RowsWithObjectness { classes: 1 })
        );
    }

    #[test]
    fn refuses_other_shapes() {
        assert!(OutputLayout::infer(&[1, 1000], None).is_err());
        assert!(OutputLayout::infer(&[1, 3, 416, 416], None).is_err());
        assert!(OutputLayout::infer(&[2, 2535, 85], None).is_err());
        assert!(OutputLayout::infer(&[1, 10, 10], None).is_err());
        // Names say 80 classes, the tensor says otherwise.
        let err = OutputLayout::infer(&[1, 2535, 25], Some(80)).unwrap_err();
        assert!(err.to_string().contains("neither"));
    }
}
