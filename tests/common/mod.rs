//! Paths and process helpers shared by the end-to-end tests. `make test` runs `make setup` first,
//! which puts the model, the ONNX Runtime library and the media under `.cache/`.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn cache(rel: &str) -> PathBuf {
    let p = root().join(".cache").join(rel);
    assert!(p.exists(), "{} is missing: run `make setup` first", p.display());
    p
}

pub fn media(name: &str) -> PathBuf {
    cache(&format!("media/{name}"))
}

pub fn model(name: &str) -> PathBuf {
    cache(&format!("models/{name}"))
}

pub fn python() -> PathBuf {
    cache("venv/bin/python")
}

/// The `sightline` binary with a clean environment for the variables it reads.
pub fn sightline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("SIGHTLINE_MODEL");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the command could not be started")
}

/// Writes a short audio-only Ogg file (a tone) to `path`, with GStreamer.
pub fn make_audio_only(path: &std::path::Path) {
    let location = format!("location={}", path.display());
    let pipeline = [
        "-q",
        "audiotestsrc",
        "num-buffers=50",
        "!",
        "audioconvert",
        "!",
        "vorbisenc",
        "!",
        "oggmux",
    ];
    let made = run(Command::new("gst-launch-1.0")
        .args(pipeline)
        .args(["!", "filesink", &location]));
    assert!(made.status.success(), "gst-launch-1.0: {}", stderr(&made));
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub mod camera;
pub mod live;
pub mod server;
pub mod tmpfs;
