//! The accuracy gate on the default model: `sightline bench accuracy --gate` against the FP32
//! reference, on the first 300 frames of a video (boxes compared on every 10th, person tracks
//! counted over all) and photos. The default model may be a faster one only while this passes.

mod common;

use common::*;

fn passes_the_gate(extra: &[&str]) {
    let out = run(sightline()
        .args(["bench", "accuracy", "--gate", "--frames", "300"])
        .args(extra));
    let text = stdout(&out);
    println!("{text}");
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains(": PASS"), "{text}");
    // Every row of figures is there: person at least, and the pooled one.
    for row in ["person ", "all "] {
        assert!(text.lines().any(|l| l.starts_with(row)), "no {row}row: {text}");
    }
}

/// vtest.avi (768×576) and the five darknet photos.
#[test]
fn the_default_model_agrees_with_the_reference() {
    passes_the_gate(&[]);
}

/// A 16:9 picture, which the default model (open input size) takes at 416×288 where the
/// reference pads it to 416×416: most uploads are this shape.
#[test]
fn the_default_model_agrees_with_the_reference_on_wide_pictures() {
    let video = media("vtest_1280x720.mp4");
    let photo = media("dog.jpg");
    passes_the_gate(&[
        "--video",
        video.to_str().expect("utf-8 path"),
        "--photos",
        photo.to_str().expect("utf-8 path"),
    ]);
}
