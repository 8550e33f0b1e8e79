//! A stand-in RTSP camera for the live-source tests and bench: serves a video file, decoded and
//! encoded again as H.264 the way cameras send it (a keyframe every second), at the file's own
//! frame rate, looped `--loops` times. Each client gets its own stream from the start.
//!
//! ```text
//! rtsp_camera --port 8554 --file vtest.avi [--loops 4] [--user U --password P] [--no-video]
//!             [--copy]
//! ```
//!
//! Prints `ready rtsp://127.0.0.1:<port>/cam` once it listens; runs until killed. `--no-video`
//! serves a sound-only stream instead (a camera whose video is switched off). `--copy` sends an
//! MP4's H.264 as it is, without decoding or encoding (for benches: the camera then costs next
//! to nothing).

use std::process::ExitCode;

use gstreamer as gst;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

struct Args {
    port: u16,
    file: String,
    loops: u32,
    credentials: Option<(String, String)>,
    no_video: bool,
    copy: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8554,
        file: String::new(),
        loops: 4,
        credentials: None,
        no_video: false,
        copy: false,
    };
    let (mut user, mut password) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--file" => args.file = value()?,
            "--loops" => args.loops = value()?.parse().map_err(|e| format!("--loops: {e}"))?,
            "--user" => user = Some(value()?),
            "--password" => password = Some(value()?),
            "--no-video" => args.no_video = true,
            "--copy" => args.copy = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.file.is_empty() && !args.no_video {
        return Err("--file is required".into());
    }
    args.credentials = user.zip(password);
    args.loops = args.loops.clamp(1, 100);
    Ok(args)
}

/// The media pipeline: the file `loops` times in a row (concat keeps the timestamps running on),
/// encoded for low latency.
fn launch(args: &Args) -> String {
    if args.no_video {
        return "( audiotestsrc is-live=true ! audioconvert ! audio/x-raw,rate=8000,channels=1 ! \
                rtpL16pay name=pay0 pt=97 )"
            .into();
    }
    if args.copy {
        let inputs: String = (0..args.loops)
            .map(|_| format!(" filesrc location=\"{}\" ! qtdemux ! h264parse ! c.", args.file))
            .collect();
        return format!(
            "( concat name=c ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1{inputs} {LIVE_CLOCK} )"
        );
    }
    // Each copy reaches concat through an element with a static pad, so concat's inputs are made
    // as the pipeline is built, in order. Linked straight from decodebin's dynamic pad, a copy
    // now and then failed to link to concat, and the camera answered 503 (2 runs in 12).
    let inputs: String = (0..args.loops)
        .map(|_| format!(" filesrc location=\"{}\" ! decodebin ! videoconvert ! c.", args.file))
        .collect();
    format!(
        "( concat name=c ! x264enc tune=zerolatency speed-preset=ultrafast \
         key-int-max=10 bitrate=1500 ! rtph264pay name=pay0 pt=96 config-interval=1{inputs} \
         {LIVE_CLOCK} )"
    )
}

/// A live element that makes the whole media live, as a camera's is: the server then announces
/// an open-ended range (`npt=now-`) instead of the first copy's duration, where clients would stop.
const LIVE_CLOCK: &str = "audiotestsrc is-live=true wave=silence ! fakesink sync=true";

fn serve(args: &Args) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    let server = rtsp::RTSPServer::new();
    server.set_service(&args.port.to_string());
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(&launch(args));
    if let Some((user, password)) = &args.credentials {
        let auth = rtsp::RTSPAuth::new();
        let token = rtsp::RTSPToken::builder()
            .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
            .build();
        auth.add_basic(rtsp::RTSPAuth::make_basic(user, password).as_str(), &token);
        server.set_auth(Some(&auth));
        let role = gst::Structure::builder("viewer")
            .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
            .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
            .build();
        factory.add_role_from_structure(&role);
    }
    let mounts = server.mount_points().ok_or("the server has no mount points")?;
    mounts.add_factory("/cam", factory);
    let main_loop = gst::glib::MainLoop::new(None, false);
    let _source = server
        .attach(None)
        .map_err(|e| format!("cannot listen on port {}: {e}", args.port))?;
    println!("ready rtsp://127.0.0.1:{}/cam", server.bound_port());
    main_loop.run();
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| serve(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtsp_camera: {e}");
            ExitCode::from(2)
        }
    }
}
