//! The stand-in RTSP camera (`examples/rtsp_camera.rs`) as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Camera {
    child: Child,
    /// `rtsp://127.0.0.1:<port>/cam`
    pub url: String,
}

/// The example binary: `cargo test` builds examples beside the test binaries.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(Path::parent).expect("target folder");
    let path = debug.join("examples").join("rtsp_camera");
    assert!(path.is_file(), "{} is missing: cargo test builds it", path.display());
    path
}

impl Camera {
    /// Starts a camera on `port` with the extra `args`; returns once it listens.
    pub fn start(port: u16, args: &[&str]) -> Camera {
        let mut child = Command::new(binary())
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the camera starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("camera stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("camera says it is ready");
        let url = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("camera did not start: {line:?}"))
            .to_string();
        Camera { child, url }
    }

    /// Serves `file` looped `loops` times.
    pub fn serving(port: u16, file: &Path, loops: u32) -> Camera {
        let file = file.to_string_lossy();
        Camera::start(port, &["--file", &file, "--loops", &loops.to_string()])
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.kill();
    }
}
