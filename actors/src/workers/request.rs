//! Encodings of the detector's messages: a request (a letterboxed image and the thresholds), its
//! reply, and the model's description. Limits are generous for real models and tight enough that
//! a corrupt length can never make a node allocate gigabytes.

use std::path::PathBuf;

use crate::detect::{BBox, DetectParams, Detection, InputShape, LetterboxedImage, ModelInfo, OutputLayout};
use crate::wire::{Reader, Wire, WireError, Writer};

/// Largest model input side accepted from the wire.
const MAX_SIDE: u32 = 4096;
const MAX_CLASSES: usize = 10_000;
const MAX_NAME: usize = 256;
const MAX_DETECTIONS: usize = 100_000;
const MAX_TEXT: usize = 4096;

/// One detection request: an image already letterboxed to the model's input size.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectRequest {
    pub image: LetterboxedImage,
    pub params: DetectParams,
}

/// The answer to one request: detections in model-input pixels, or why there are none.
pub type DetectReply = Result<Vec<Detection>, String>;

impl Wire for DetectRequest {
    const TAG: u8 = 1;
    const NAME: &'static str = "detect_request";

    fn encode(&self, out: &mut Writer) {
        out.u32(self.image.width);
        out.u32(self.image.height);
        out.bytes(&self.image.rgb);
        out.f32(self.params.confidence);
        out.f32(self.params.iou);
        out.strs(&self.params.classes);
    }

    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let (width, height) = (input.u32()?, input.u32()?);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(WireError(format!(
                "image size {width}x{height} is outside 1..{MAX_SIDE}"
            )));
        }
        let expected = width as usize * height as usize * 3;
        let rgb = input.bytes(expected)?;
        if rgb.len() != expected {
            return Err(WireError(format!(
                "image of {width}x{height} needs {expected} bytes, got {}",
                rgb.len()
            )));
        }
        let rgb = rgb.to_vec();
        let (confidence, iou) = (input.f32()?, input.f32()?);
        if !(0.0..=1.0).contains(&confidence) || !(0.0..=1.0).contains(&iou) {
            return Err(WireError::new("confidence and iou must be within 0..1"));
        }
        let classes = input.strings(MAX_CLASSES, MAX_NAME)?;
        Ok(DetectRequest {
            image: LetterboxedImage { width, height, rgb },
            params: DetectParams {
                confidence,
                iou,
                classes,
            },
        })
    }
}

impl Wire for DetectReply {
    const TAG: u8 = 2;
    const NAME: &'static str = "detect_reply";

    fn encode(&self, out: &mut Writer) {
        match self {
            Ok(dets) => {
                out.u8(0);
                out.u32(u32::try_from(dets.len()).unwrap_or(u32::MAX));
                for d in dets {
                    out.u16(d.class_id);
                    out.f32(d.confidence);
                    for v in [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2] {
                        out.f32(v);
                    }
                }
            }
            Err(why) => {
                out.u8(1);
                out.str(why);
            }
        }
    }

    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match input.u8()? {
            0 => {
                let n = input.count(MAX_DETECTIONS, "detection list")?;
                let mut dets = Vec::with_capacity(n);
                for _ in 0..n {
                    let class_id = input.u16()?;
                    let confidence = input.f32()?;
                    let bbox = BBox::new(input.f32()?, input.f32()?, input.f32()?, input.f32()?);
                    dets.push(Detection {
                        class_id,
                        confidence,
                        bbox,
                    });
                }
                Ok(Ok(dets))
            }
            1 => Ok(Err(input.string(MAX_TEXT)?)),
            other => Err(WireError(format!("unknown reply kind {other}"))),
        }
    }
}

impl Wire for ModelInfo {
    const TAG: u8 = 3;
    const NAME: &'static str = "model_info";

    fn encode(&self, out: &mut Writer) {
        out.str(&self.path.to_string_lossy());
        out.str(&self.input_name);
        out.u32(self.input.width);
        out.u32(self.input.height);
        out.u32(self.input.stride.unwrap_or(0));
        let (kind, classes) = match self.layout {
            OutputLayout::RowsWithObjectness { classes } => (0, classes),
            OutputLayout::ColumnsNoObjectness { classes } => (1, classes),
        };
        out.u8(kind);
        out.u32(u32::try_from(classes).unwrap_or(u32::MAX));
        out.strs(&self.names);
    }

    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let path = PathBuf::from(input.string(MAX_TEXT)?);
        let input_name = input.string(MAX_TEXT)?;
        let (width, height) = (input.u32()?, input.u32()?);
        let stride = Some(input.u32()?).filter(|&s| s > 0);
        let kind = input.u8()?;
        let classes = input.count(MAX_CLASSES, "class count")?;
        let layout = match kind {
            0 => OutputLayout::RowsWithObjectness { classes },
            1 => OutputLayout::ColumnsNoObjectness { classes },
            other => return Err(WireError(format!("unknown output layout {other}"))),
        };
        Ok(ModelInfo {
            path,
            input_name,
            input: InputShape { width, height, stride },
            layout,
            names: input.strings(MAX_CLASSES, MAX_NAME)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Checked;
    use ractor::BytesConvertable;

    fn request() -> DetectRequest {
        DetectRequest {
            image: LetterboxedImage {
                width: 4,
                height: 2,
                rgb: (0..24).collect(),
            },
            params: DetectParams {
                confidence: 0.3,
                iou: 0.45,
                classes: vec!["person".into(), "car".into()],
            },
        }
    }

    #[test]
    fn request_reply_and_model_round_trip() {
        let bytes = Checked::new(request()).into_bytes();
        assert_eq!(Checked::<DetectRequest>::from_bytes(bytes).0, Ok(request()));
        let reply: DetectReply = Ok(vec![Detection {
            class_id: 3,
            confidence: 0.9,
            bbox: BBox::new(1.0, 2.0, 30.5, 40.25),
        }]);
        let bytes = Checked::new(reply.clone()).into_bytes();
        assert_eq!(Checked::<DetectReply>::from_bytes(bytes).0, Ok(reply));
        let failed: DetectReply = Err("input size".into());
        let bytes = Checked::new(failed.clone()).into_bytes();
        assert_eq!(Checked::<DetectReply>::from_bytes(bytes).0, Ok(failed));
        let info = ModelInfo {
            path: "m.onnx".into(),
            input_name: "images".into(),
            input: InputShape {
                width: 416,
                height: 416,
                stride: Some(32),
            },
            layout: OutputLayout::ColumnsNoObjectness { classes: 80 },
            names: vec!["person".into()],
        };
        let bytes = Checked::new(info.clone()).into_bytes();
        assert_eq!(Checked::<ModelInfo>::from_bytes(bytes).0, Ok(info));
    }

    #[test]
    fn an_image_whose_size_and_bytes_disagree_is_refused() {
        let mut r = request();
        r.image.rgb.pop();
        let bytes = Checked::new(r).into_bytes();
        assert!(Checked::<DetectRequest>::from_bytes(bytes).0.is_err());
        let mut r = request();
        r.params.confidence = 2.0;
        assert!(Checked::<DetectRequest>::from_bytes(Checked::new(r).into_bytes())
            .0
            .is_err());
    }

    #[test]
    fn a_request_is_not_taken_for_a_reply() {
        let bytes = Checked::new(request()).into_bytes();
        assert!(Checked::<DetectReply>::from_bytes(bytes).0.is_err());
    }
}
