//! The DetectorWorker actor with the real model: it joins the detectors group, answers requests,
//! and survives a bad one.

use std::path::PathBuf;
use std::time::Duration;

use ractor::{Actor, ActorRef, BytesConvertable};
use sightline_actors::detect::{
    letterbox, DetectParams, DetectorConfig, FrameRef, Letterbox, LetterboxedImage, PixelFormat,
};
use sightline_actors::wire::Checked;
use sightline_actors::workers::{detect, DetectReply, DetectRequest, DetectorMsg, DetectorWorker, DETECTORS_GROUP};

fn cache(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache").join(rel);
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

fn config() -> DetectorConfig {
    DetectorConfig {
        model: cache("models/yolov4-tiny.onnx"),
        names: None,
        ort_library: cache("lib/libonnxruntime.so.1.31.1"),
        threads: 1,
    }
}

async fn ask(worker: &ActorRef<DetectorMsg>, image: LetterboxedImage) -> DetectReply {
    let request = DetectRequest {
        image,
        params: DetectParams::default(),
    };
    detect(&worker.get_cell(), request, Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_detects_joins_the_group_and_survives_bad_requests() {
    let (worker, handle) = Actor::spawn(None, DetectorWorker, config())
        .await
        .expect("worker starts");
    assert!(ractor::pg::get_members(&DETECTORS_GROUP.to_string())
        .iter()
        .any(|c| c.get_id() == worker.get_id()));

    let img = image::open(cache("media/person.jpg")).expect("photo").to_rgb8();
    let frame = FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb).expect("frame");
    let lb = Letterbox::new(img.width(), img.height(), 416, 416);
    let input = letterbox(&frame, &lb);

    let wrong_size = LetterboxedImage {
        width: 10,
        height: 10,
        rgb: vec![0; 300],
    };
    let err = ask(&worker, wrong_size).await.expect_err("a 10x10 image is refused");
    assert!(err.contains("the model takes 416×416"), "{err}");

    // A payload that did not decode (as a corrupt cross-node message arrives) is answered with an
    // error, and the worker goes on.
    let garbage = Checked::<DetectRequest>::from_bytes(b"SL\x01\x01 not an image".to_vec());
    let answer = ractor::call!(worker, |reply| DetectorMsg::Detect(garbage, reply)).expect("an answer");
    let err = answer.0.expect("a well-formed reply").expect_err("an error reply");
    assert!(err.contains("malformed request"), "{err}");

    let dets = ask(&worker, input).await.expect("detections");
    let classes: Vec<u16> = dets.iter().map(|d| d.class_id).collect();
    // COCO ids: person 0, dog 16, horse 17.
    for id in [0, 16, 17] {
        assert!(classes.contains(&id), "class {id} missing from {classes:?}");
    }
    // Boxes come back in model pixels: they overlap the letterboxed content band, not the frame.
    for d in &dets {
        assert!(d.bbox.x2 <= 416.5 && d.bbox.y2 <= 416.5, "{d:?}");
        assert!(
            d.bbox.y2 > lb.pad_y as f32 && d.bbox.y1 < (lb.pad_y + lb.new_h) as f32,
            "{d:?}"
        );
    }

    worker.stop(None);
    handle.await.expect("worker stops");
}

/// The default model's height and width are open: a picture goes in at its own shape, on the
/// grid, and a size off the grid is refused with what the model takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_with_an_open_input_takes_each_picture_at_its_own_shape() {
    let config = DetectorConfig {
        model: cache("models/yolov4-tiny-int8.onnx"),
        ..config()
    };
    let (worker, handle) = Actor::spawn(None, DetectorWorker, config).await.expect("worker starts");
    let info = ractor::call!(worker, DetectorMsg::Info)
        .expect("model info")
        .0
        .expect("it decodes");
    assert_eq!(info.input.stride, Some(32));

    let img = image::open(cache("media/person.jpg")).expect("photo").to_rgb8();
    let frame = FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb).expect("frame");
    let lb = info.input.letterbox(img.width(), img.height());
    assert_eq!(
        (lb.dst_w, lb.dst_h),
        (416, 288),
        "640×424 is scaled to 416×276 and padded to the grid"
    );
    let dets = ask(&worker, letterbox(&frame, &lb)).await.expect("detections");
    let classes: Vec<u16> = dets.iter().map(|d| d.class_id).collect();
    for id in [0, 16, 17] {
        assert!(classes.contains(&id), "class {id} missing from {classes:?}");
    }

    let off_grid = LetterboxedImage {
        width: 416,
        height: 250,
        rgb: vec![114; 416 * 250 * 3],
    };
    let err = ask(&worker, off_grid).await.expect_err("416×250 is refused");
    assert!(err.contains("multiples of 32 up to 416×416"), "{err}");

    worker.stop(None);
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_with_a_missing_model_fails_to_start() {
    let mut cfg = config();
    cfg.model = PathBuf::from("/nonexistent/model.onnx");
    let err = Actor::spawn(None, DetectorWorker, cfg).await.expect_err("start fails");
    assert!(err.to_string().contains("does not exist"), "{err}");
}
