//! Re-rendering a processed video from its stored detections, with another style or class
//! filter: a new HLS set at its own URL, made without running the detector again.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use sightline_actors::job::{record_status, JobKind, RenderOptions};
use sightline_actors::store::{RenderRecord, VideoStatus};

use super::auth::TokenIfSet;
use super::error::ApiError;
use super::failure::{Failure, Lookup, Rendering};
use super::models::{RenderOptionsView, Status};
use super::video_id::VideoIdParam;
use crate::job_key::JobKey;
use crate::state::SharedState;

#[derive(Tags)]
enum ApiTags {
    /// New renderings of processed videos from their stored detections.
    Renders,
}

pub struct RendersApi {
    pub state: SharedState,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RenderRequest {
    /// Classes to draw (names); default: every class detected.
    pub classes: Option<Vec<String>>,
    /// Opacity of boxes and label backgrounds, (0, 1]; default 1.
    #[oai(validator(minimum(value = "0", exclusive), maximum(value = "1")))]
    pub opacity: Option<f32>,
    /// Box outline thickness in pixels, 1..32; default 2.
    #[oai(validator(minimum(value = "1"), maximum(value = "32")))]
    pub thickness: Option<u32>,
    /// Draw labels (`person 0.87`); default true.
    pub labels: Option<bool>,
    /// Draw the video's zones and lines with their running counts; default false.
    pub rules: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Render {
    pub video: String,
    pub number: u32,
    pub status: Status,
    pub options: RenderOptionsView,
    pub error: Option<String>,
    /// The rendering's master playlist (playable once it has segments).
    pub master: String,
    /// Where to follow this rendering.
    pub url: String,
}

impl From<&RenderRecord> for Render {
    fn from(r: &RenderRecord) -> Self {
        let video = r.video.to_string();
        Render {
            master: format!("/streams/{video}/renders/{}/master.m3u8", r.number),
            url: format!("/api/videos/{video}/renders/{}", r.number),
            video,
            number: r.number,
            status: r.status.into(),
            options: RenderOptionsView::from(&r.options),
            error: r.error.clone(),
        }
    }
}

#[derive(ApiResponse)]
enum RenderAccepted {
    /// Accepted: the rendering is queued.
    #[oai(status = 202)]
    Accepted(Json<Render>),
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Renders")]
impl RendersApi {
    /// Render a ready video again.
    ///
    /// A new HLS set drawn from the stored detections with another class filter or style, made without
    /// running the detector again; it gets its own number and master playlist. Only `ready` videos
    /// can be rendered (409 otherwise).
    #[oai(path = "/videos/:id/renders", method = "post", operation_id = "createRender")]
    async fn create(
        &self,
        _token: TokenIfSet,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        body: Json<RenderRequest>,
    ) -> Result<RenderAccepted, Failure<Rendering>> {
        let st = &self.state;
        let id = id.0 .0;
        let video = st
            .store
            .get_video(id)?
            .ok_or_else(|| ApiError::not_found(format!("no video {id}")))?;
        if video.status != VideoStatus::Ready {
            return Err(ApiError::conflict(format!(
                "video {id} is {}; only ready videos can be rendered again",
                video.status
            ))
            .into());
        }
        let req = body.0;
        let d = RenderOptions::default();
        let options = RenderOptions {
            classes: req.classes.unwrap_or(d.classes),
            opacity: req.opacity.unwrap_or(d.opacity),
            thickness: req.thickness.unwrap_or(d.thickness),
            labels: req.labels.unwrap_or(d.labels),
            rules: req.rules.unwrap_or(d.rules),
        };
        if options.rules && st.store.get_rules(id)?.is_none_or(|r| r.rules.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "rules: video {id} has no zones or lines to draw (set them with PUT /api/videos/{id}/rules)"
            ))
            .into());
        }
        options.validate(&st.model.names)?;
        let record = st.store.create_render(id, options)?;
        let kind = JobKind::Render(record.number);
        if let Err(e) = st.jobs.submit(JobKey { video: id, kind }) {
            let _ = record_status(&st.store, id, kind, VideoStatus::Failed, Some(e.to_string()), None);
            return Err(ApiError::unavailable(e.to_string()).into());
        }
        Ok(RenderAccepted::Accepted(Json(Render::from(&record))))
    }

    /// List a video's renderings.
    ///
    /// Every rendering of the video, oldest first, with its status and master playlist.
    #[oai(path = "/videos/:id/renders", method = "get", operation_id = "listRenders")]
    async fn list(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
    ) -> Result<Json<Vec<Render>>, Failure<Lookup>> {
        let id = id.0 .0;
        if self.state.store.get_video(id)?.is_none() {
            return Err(ApiError::not_found(format!("no video {id}")).into());
        }
        let renders = self.state.store.list_renders(id)?.into_iter();
        Ok(Json(
            renders.map(|r| Render::from(&self.state.repairs.render(r))).collect(),
        ))
    }

    /// Get one rendering.
    ///
    /// Its status, options and master playlist; `ready` once every rendition is written.
    #[oai(path = "/videos/:id/renders/:number", method = "get", operation_id = "getRender")]
    async fn get(
        &self,
        /// The video's id, as `uploadVideo` answered it.
        id: Path<VideoIdParam>,
        /// The rendering's number, as `createRender` answered it.
        number: Path<u32>,
    ) -> Result<Json<Render>, Failure<Lookup>> {
        let id = id.0 .0;
        let r = self
            .state
            .store
            .get_render(id, number.0)?
            .ok_or_else(|| ApiError::not_found(format!("video {id} has no rendering {}", number.0)))?;
        Ok(Json(Render::from(&self.state.repairs.render(r))))
    }
}
