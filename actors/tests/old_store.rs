//! A store written by release 0.1.0, whose records kept a job's options as untyped JSON under
//! `config`, still opens: its video, its rendering, their options, detections and stats read back.
//!
//! The fixture (`tests/fixtures/store-0.1.0`) was made by that release's server: bikes.mp4
//! uploaded with `confidence=0.3`, `classes=person,car,bicycle`, `every=2`, processed, then
//! rendered again with `{"classes":["car"],"opacity":0.5,"thickness":3,"labels":false}`.

use std::path::PathBuf;

use sightline_actors::job::{JobOptions, RenderOptions};
use sightline_actors::store::{DetectionQuery, Store, VideoId, VideoStatus, MAX_PAGE_LIMIT};

/// A copy of the fixture, since sled writes to what it opens.
fn open_fixture() -> (tempfile::TempDir, Store) {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/store-0.1.0");
    let dir = tempfile::tempdir().expect("temp dir");
    let store_dir = dir.path().join("store");
    std::fs::create_dir_all(&store_dir).expect("store dir");
    for name in ["conf", "db"] {
        std::fs::copy(fixture.join(name), store_dir.join(name)).expect("copy fixture");
    }
    let store = Store::open(&store_dir).expect("the old store opens");
    (dir, store)
}

#[test]
fn records_of_release_0_1_0_read_as_typed_options() {
    let (_dir, store) = open_fixture();
    let id = VideoId::from_u64(0);
    let video = store.get_video(id).expect("reads").expect("the video is there");
    assert_eq!(video.filename, "bikes.mp4");
    assert_eq!(video.status, VideoStatus::Ready);
    assert_eq!((video.width, video.height, video.duration_ms), (640, 272, 10_000));
    assert_eq!(
        video.options,
        JobOptions {
            confidence: 0.3,
            iou: 0.45,
            classes: vec!["person".into(), "car".into(), "bicycle".into()],
            every: 2,
        }
    );

    let renders = store.list_renders(id).expect("renders read");
    assert_eq!(renders.len(), 1);
    assert_eq!(renders[0].status, VideoStatus::Ready);
    assert_eq!(
        renders[0].options,
        RenderOptions {
            classes: vec!["car".into()],
            opacity: 0.5,
            thickness: 3,
            labels: false,
            // Older renderings drew no zones or lines.
            rules: false,
        }
    );

    let page = store
        .query_detections(
            id,
            &DetectionQuery {
                limit: MAX_PAGE_LIMIT,
                ..DetectionQuery::default()
            },
        )
        .expect("detections read");
    assert_eq!(page.items.len(), 258);
    assert_eq!(video.detections, 258);
    let stats = store.get_stats(id).expect("stats read").expect("stats are there");
    assert_eq!(stats.total_detections, 258);
    assert_eq!(stats.class_counts.get(&2), Some(&139), "cars");
}

#[test]
fn an_old_record_written_again_keeps_its_options() {
    let (_dir, store) = open_fixture();
    let id = VideoId::from_u64(0);
    let before = store.get_video(id).expect("reads").expect("there");
    let after = store.update_video(id, |v| v.error = None).expect("rewrites");
    assert_eq!(after.options, before.options);
    let reread = store.get_video(id).expect("reads").expect("there");
    assert_eq!(reread.options, before.options);
}
