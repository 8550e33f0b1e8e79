//! The command line's own tools: shell completions, man pages and the logging flags.

mod common;

use common::*;

#[test]
fn completions_are_valid_scripts_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(sightline().args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("sightline") && script.contains("process"), "{shell}");
    }
    // bash itself parses the bash script.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sightline.bash");
    std::fs::write(&file, stdout(&run(sightline().args(["completions", "bash"])))).expect("write");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn man_pages_cover_every_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(sightline().arg("man").arg(dir.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    for page in [
        "sightline",
        "sightline-serve",
        "sightline-process",
        "sightline-worker",
        "sightline-completions",
    ] {
        let text = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).expect(page);
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is not a man page"
        );
    }
    let serve = std::fs::read_to_string(dir.path().join("sightline-serve.1")).expect("serve page");
    assert!(serve.contains("bind"), "the serve page does not describe --bind");
}

#[test]
fn logging_flags_are_checked() {
    let out = run(sightline().args(["--log-level", "sightline=loud", "completions", "bash"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--log-level"), "{}", stderr(&out));
    let out = run(sightline().args(["--log-format", "xml", "completions", "bash"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("text or json"), "{}", stderr(&out));
    for flags in [
        &["-vv"][..],
        &["-q"],
        &["--log-level", "sightline=debug,info"],
        &["--log-format", "json"],
    ] {
        let out = run(sightline().args(flags).args(["completions", "fish"]));
        assert!(out.status.success(), "{flags:?}: {}", stderr(&out));
    }
}
