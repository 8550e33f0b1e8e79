//! The API against its own OpenAPI document: `scripts/api-contract.sh` starts this build's
//! `sightline serve`, processes a real video, then has schemathesis generate requests from
//! /openapi.json and check every response (no 5xx; status code, content type and body as
//! documented). The script installs schemathesis in `.cache/venv-test` on its first run.

use std::path::Path;
use std::process::Command;

#[test]
fn api_keeps_its_openapi_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // stderr into stdout, so the script's own lines and schemathesis' report stay in order.
    let out = Command::new("bash")
        .args(["-c", "exec bash scripts/api-contract.sh \"$1\" 2>&1", "api-contract"])
        .arg(env!("CARGO_BIN_EXE_sightline"))
        .current_dir(root)
        .output()
        .expect("bash could not be started");
    assert!(
        out.status.success(),
        "scripts/api-contract.sh failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}
