//! Whole-video exports of the stored detections, streamed (CSV and JSON Lines), so a long
//! video's detections never sit in memory at once.

use futures_util::stream;
use poem::Body;
use poem_openapi::param::Path;
use poem_openapi::payload::Binary;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use sightline_actors::detect::names::class_name;
use sightline_actors::detect::BBox;
use sightline_actors::store::{DetectionIter, StoredDetection, VideoId};

use super::error::ApiError;
use super::failure::{Failure, Lookup};
use super::video_id::VideoIdParam;
use crate::state::SharedState;

/// Detections written per chunk of the response body.
const CHUNK: usize = 1000;

#[derive(Tags)]
enum ApiTags {
    /// Bulk exports of detections.
    Export,
}

pub struct ExportApi {
    pub state: SharedState,
}

#[derive(ApiResponse)]
enum CsvExport {
    /// `frame,time,class,class_id,confidence,x1,y1,x2,y2,track_id,source`, box normalised.
    #[oai(status = 200, content_type = "text/csv")]
    Ok(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[derive(ApiResponse)]
enum JsonlExport {
    /// One JSON object per line, as in the detections endpoint.
    #[oai(status = 200, content_type = "application/x-ndjson")]
    Ok(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[derive(ApiResponse)]
enum MotExport {
    /// MOTChallenge text: `frame,id,left,top,width,height,conf,-1,-1,-1`, frames from 1, pixels;
    /// tracked boxes only.
    #[oai(status = 200, content_type = "text/plain")]
    Ok(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Jsonl,
    /// MOTChallenge, in pixels of a `width`×`height` frame.
    Mot(u32, u32),
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Export")]
impl ExportApi {
    /// Export a video's detections as CSV.
    ///
    /// Every stored detection in time order, streamed: a long video's detections never sit in memory
    /// at once. Boxes are normalised to the frame.
    #[oai(
        path = "/videos/:id/detections.csv",
        method = "get",
        operation_id = "exportDetectionsCsv"
    )]
    async fn csv(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<CsvExport, Failure<Lookup>> {
        let (id, names) = self.video(id.0 .0)?;
        let body = export(self.state.store.detections_iter(id), names, Format::Csv);
        Ok(CsvExport::Ok(
            Binary(body),
            format!("attachment; filename=\"{id}-detections.csv\""),
        ))
    }

    /// Export a video's detections as JSON Lines.
    ///
    /// Every stored detection in time order, one JSON object per line with the fields of
    /// `listDetections`' items, streamed.
    #[oai(
        path = "/videos/:id/detections.jsonl",
        method = "get",
        operation_id = "exportDetectionsJsonl"
    )]
    async fn jsonl(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<JsonlExport, Failure<Lookup>> {
        let (id, names) = self.video(id.0 .0)?;
        let body = export(self.state.store.detections_iter(id), names, Format::Jsonl);
        Ok(JsonlExport::Ok(
            Binary(body),
            format!("attachment; filename=\"{id}-detections.jsonl\""),
        ))
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Export")]
impl MotApi {
    /// Export a video's tracks in the MOTChallenge format.
    ///
    /// Tracked boxes only, in pixels, frames counted from 1, for tracking evaluation tools.
    #[oai(path = "/videos/:id/tracks.txt", method = "get", operation_id = "exportTracksMot")]
    async fn mot(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<MotExport, Failure<Lookup>> {
        let api = ExportApi {
            state: self.state.clone(),
        };
        let (id, names) = api.video(id.0 .0)?;
        let record = self
            .state
            .store
            .get_video(id)?
            .ok_or_else(|| ApiError::not_found(format!("no video {id}")))?;
        let body = export(
            self.state.store.detections_iter(id),
            names,
            Format::Mot(record.width, record.height),
        );
        Ok(MotExport::Ok(
            Binary(body),
            format!("attachment; filename=\"{id}-tracks.txt\""),
        ))
    }
}

/// The MOT export, apart so each API struct keeps one kind of export.
pub struct MotApi {
    pub state: SharedState,
}

impl ExportApi {
    fn video(&self, id: VideoId) -> Result<(VideoId, Vec<String>), ApiError> {
        let record = self
            .state
            .store
            .get_video(id)?
            .ok_or_else(|| ApiError::not_found(format!("no video {id}")))?;
        Ok((id, record.class_names))
    }
}

fn export(iter: DetectionIter, names: Vec<String>, format: Format) -> Body {
    let header = match format {
        Format::Csv => Some("frame,time,class,class_id,confidence,x1,y1,x2,y2,track_id,source\n".to_string()),
        Format::Jsonl | Format::Mot(..) => None,
    };
    let chunks = stream::unfold((iter, names, header), move |(mut iter, names, header)| async move {
        let mut out = header.unwrap_or_default();
        for item in iter.by_ref().take(CHUNK) {
            match item {
                Ok(d) => line(&mut out, &d, &names, format),
                // A damaged entry ends the export early rather than silently skipping rows.
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (iter, names, None))),
            }
        }
        (!out.is_empty()).then_some((Ok(out), (iter, names, None)))
    });
    Body::from_bytes_stream(chunks)
}

fn line(out: &mut String, d: &StoredDetection, names: &[String], format: Format) {
    use std::fmt::Write as _;
    let class = class_name(names, d.class_id as usize);
    let source = if d.predicted { "predicted" } else { "detected" };
    let [x1, y1, x2, y2] = d.bbox;
    let time = d.pts_ms as f64 / 1000.0;
    match format {
        Format::Csv => {
            let track = d.track_id.map(|t| t.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{time:.3},{class},{},{:.4},{x1:.5},{y1:.5},{x2:.5},{y2:.5},{track},{source}",
                d.frame, d.class_id, d.confidence
            );
        }
        Format::Mot(w, h) => {
            // Only tracked boxes have an identity to evaluate.
            if let Some(id) = d.track_id {
                let b = BBox::from_normalised(d.bbox, w, h);
                let _ = writeln!(
                    out,
                    "{},{id},{:.2},{:.2},{:.2},{:.2},{:.4},-1,-1,-1",
                    d.frame + 1,
                    b.x1,
                    b.y1,
                    b.width(),
                    b.height(),
                    d.confidence
                );
            }
        }
        Format::Jsonl => {
            let v = serde_json::json!({
                "frame": d.frame, "time": time, "class": class, "class_id": d.class_id,
                "confidence": d.confidence, "box": [x1, y1, x2, y2], "track_id": d.track_id, "source": source,
            });
            let _ = writeln!(out, "{v}");
        }
    }
}
