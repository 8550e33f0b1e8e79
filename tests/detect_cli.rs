//! `sightline detect` on real photos with the real model, and its refusals of bad input.

mod common;

use common::*;
use serde_json::Value;

/// One detection as `sightline detect --json` (or the Python reference) reports it.
#[derive(Debug, Clone)]
struct Det {
    class: String,
    confidence: f64,
    bbox: [f64; 4],
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    w * h / (area(a) + area(b) - w * h)
}

fn detect(image: &str, extra: &[&str]) -> Vec<Det> {
    let out = run(sightline().arg("detect").arg(media(image)).arg("--json").args(extra));
    assert!(out.status.success(), "detect failed: {}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("detect --json prints JSON");
    v[0]["detections"]
        .as_array()
        .expect("detections array")
        .iter()
        .map(|d| Det {
            class: d["class"].as_str().expect("class").to_string(),
            confidence: d["confidence"].as_f64().expect("confidence"),
            bbox: ["x1", "y1", "x2", "y2"].map(|k| d["box"][k].as_f64().expect("box")),
        })
        .collect()
}

fn find<'a>(dets: &'a [Det], class: &str) -> &'a Det {
    dets.iter()
        .find(|d| d.class == class)
        .unwrap_or_else(|| panic!("no {class} in {dets:?}"))
}

/// Each expected class is found with confidence > 0.5 and a box near the one given.
fn expect_objects(image: &str, expected: &[(&str, [f64; 4])]) {
    let dets = detect(image, &[]);
    for (class, bbox) in expected {
        let d = find(&dets, class);
        assert!(d.confidence > 0.5, "{image}: {class} confidence {}", d.confidence);
        assert!(
            iou(&d.bbox, bbox) > 0.9,
            "{image}: {class} box {:?} is not near {bbox:?}",
            d.bbox
        );
    }
}

/// Boxes checked by eye on the photos rendered with these boxes, and against the Python reference
/// (tools/reference_detect.py, onnxruntime + numpy) on the same model.
#[test]
fn dog_photo_finds_dog_bicycle_and_car_where_they_are() {
    expect_objects(
        "dog.jpg",
        &[
            ("dog", [127.0, 209.3, 326.6, 528.3]),
            ("bicycle", [185.7, 135.0, 576.6, 430.7]),
            ("car", [467.0, 78.5, 693.3, 167.5]),
        ],
    );
}

#[test]
fn person_photo_finds_person_dog_and_horse() {
    expect_objects(
        "person.jpg",
        &[
            ("person", [192.6, 114.0, 273.3, 376.2]),
            ("dog", [63.5, 261.2, 202.0, 356.0]),
            ("horse", [398.8, 131.8, 608.4, 338.2]),
        ],
    );
}

#[test]
fn both_output_layouts_give_the_same_detections() {
    for image in ["dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg"] {
        let v4 = detect(
            image,
            &["--model", model("yolov4-tiny.onnx").to_str().expect("utf-8 path")],
        );
        let v8 = detect(
            image,
            &["--model", model("yolov4-tiny-v8.onnx").to_str().expect("utf-8 path")],
        );
        assert!(!v4.is_empty(), "{image}: nothing detected");
        assert_eq!(v4.len(), v8.len(), "{image}: {v4:?} vs {v8:?}");
        for (a, b) in v4.iter().zip(&v8) {
            assert_eq!(a.class, b.class, "{image}");
            assert!((a.confidence - b.confidence).abs() < 1e-4, "{image}: {a:?} vs {b:?}");
            assert!(iou(&a.bbox, &b.bbox) > 0.999, "{image}: {a:?} vs {b:?}");
        }
    }
}

/// The same model run by an independent Python implementation (onnxruntime, numpy) agrees.
#[test]
fn agrees_with_the_python_reference() {
    for image in ["dog.jpg", "person.jpg", "kite.jpg"] {
        let out = run(std::process::Command::new(python())
            .arg(root().join("tools/reference_detect.py"))
            .arg("--model")
            .arg(model("yolov4-tiny.onnx"))
            .arg(media(image)));
        assert!(out.status.success(), "reference failed: {}", stderr(&out));
        let reference: Vec<Det> = stdout(&out)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("JSON line");
                let b = v["box"].as_array().expect("box");
                Det {
                    class: v["class"].as_str().expect("class").to_string(),
                    confidence: v["confidence"].as_f64().expect("confidence"),
                    bbox: [0, 1, 2, 3].map(|i| b[i].as_f64().expect("number")),
                }
            })
            .collect();
        let ours = detect(
            image,
            &["--model", model("yolov4-tiny.onnx").to_str().expect("utf-8 path")],
        );
        // Detections near the threshold may flip either way on rounding; compare the clear ones.
        for r in reference.iter().filter(|r| r.confidence > 0.35) {
            let m = ours
                .iter()
                .filter(|d| d.class == r.class)
                .max_by(|a, b| iou(&a.bbox, &r.bbox).total_cmp(&iou(&b.bbox, &r.bbox)))
                .unwrap_or_else(|| panic!("{image}: reference found {r:?}, we did not"));
            assert!(iou(&m.bbox, &r.bbox) > 0.97, "{image}: {m:?} vs reference {r:?}");
            assert!(
                (m.confidence - r.confidence).abs() < 0.02,
                "{image}: {m:?} vs reference {r:?}"
            );
        }
        assert!(
            ours.iter().filter(|d| d.confidence > 0.35).count()
                >= reference.iter().filter(|r| r.confidence > 0.4).count()
        );
    }
}

#[test]
fn class_filter_keeps_only_named_classes() {
    let dets = detect("dog.jpg", &["--classes", "dog,car"]);
    let mut classes: Vec<_> = dets.iter().map(|d| d.class.as_str()).collect();
    classes.sort();
    assert_eq!(classes, ["car", "dog"]);
}

#[test]
fn table_output_names_image_and_classes() {
    let out = run(sightline().arg("detect").arg(media("person.jpg")));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("person.jpg (640x424): 3 objects"), "{text}");
    for class in ["person", "dog", "horse"] {
        assert!(text.contains(class), "{text}");
    }
}

/// Runs `sightline detect` with `args`, expects failure, and returns what it said on stderr.
fn refused(args: &[&std::ffi::OsStr]) -> String {
    let out = run(sightline().arg("detect").args(args));
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "expected a failure, got success: {}",
        stdout(&out)
    );
    assert!(!err.contains("panicked"), "panic instead of an error: {err}");
    err
}

#[test]
fn missing_image_is_refused() {
    let err = refused(&["no/such/picture.jpg".as_ref()]);
    assert!(err.contains("no/such/picture.jpg: no such file"), "{err}");
}

#[test]
fn non_image_file_is_refused() {
    let err = refused(&[root().join("Cargo.toml").as_os_str()]);
    assert!(err.contains("is not an image we can read"), "{err}");
}

#[test]
fn missing_model_is_refused() {
    let err = refused(&[
        media("dog.jpg").as_os_str(),
        "--model".as_ref(),
        "missing.onnx".as_ref(),
    ]);
    assert!(err.contains("model file missing.onnx does not exist"), "{err}");
}

#[test]
fn file_that_is_not_onnx_is_refused() {
    let err = refused(&[
        media("dog.jpg").as_os_str(),
        "--model".as_ref(),
        media("person.jpg").as_os_str(),
    ]);
    assert!(
        err.contains("could not load") && err.contains("as an ONNX model"),
        "{err}"
    );
}

#[test]
fn onnx_model_with_neither_output_layout_is_refused() {
    let dir = std::env::temp_dir().join(format!("sightline-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("not_yolo.onnx");
    let out = run(std::process::Command::new(python())
        .arg(root().join("tests/fixtures/not_yolo_model.py"))
        .arg(&bad));
    assert!(out.status.success(), "fixture: {}", stderr(&out));
    let err = refused(&[media("dog.jpg").as_os_str(), "--model".as_ref(), bad.as_os_str()]);
    assert!(err.contains("is neither [1, N, 5+C]"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_onnx_runtime_says_how_to_get_it() {
    let err = refused(&[
        media("dog.jpg").as_os_str(),
        "--ort-lib".as_ref(),
        "/nowhere/libonnxruntime.so".as_ref(),
    ]);
    assert!(
        err.contains("ONNX Runtime library is not at /nowhere/libonnxruntime.so"),
        "{err}"
    );
    assert!(err.contains("make setup"), "{err}");
}

#[test]
fn unknown_class_is_refused_with_the_known_ones() {
    let err = refused(&[media("dog.jpg").as_os_str(), "--classes".as_ref(), "unicorn".as_ref()]);
    assert!(
        err.contains("unknown class 'unicorn'") && err.contains("person, bicycle"),
        "{err}"
    );
}

#[test]
fn out_of_range_confidence_is_a_usage_error() {
    let out = run(sightline().arg("detect").arg(media("dog.jpg")).args(["--conf", "1.5"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("outside 0..1"));
}
