//! The accuracy gate on the default model: `sightline bench accuracy --gate` against the FP32
//! reference, on the first 300 frames of vtest.avi (boxes compared on every 10th, person tracks
//! counted over all) and the five darknet photos. The default model may be a faster one only
//! while this passes.

mod common;

use common::*;

#[test]
fn the_default_model_agrees_with_the_reference() {
    let out = run(sightline().args(["bench", "accuracy", "--gate", "--frames", "300"]));
    let text = stdout(&out);
    println!("{text}");
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains(": PASS"), "{text}");
    // Every row of figures is there: person at least, and the pooled one.
    for row in ["person ", "all "] {
        assert!(text.lines().any(|l| l.starts_with(row)), "no {row}row: {text}");
    }
}
