//! The API against its own OpenAPI document, and through other people's tools. Each test runs a
//! script that starts this build's `sightline serve` and processes a real video:
//! - `scripts/api-contract.sh`: schemathesis generates requests from /openapi.json and checks
//!   every response (no 5xx; status code, content type and body as documented);
//! - `scripts/api-clients.sh`: redocly and spectral lint the document with no findings, the
//!   TypeScript types generated from it type-check a small client, and a generated Python client
//!   runs the whole flow.
//!
//! The tools live in `.cache/venv-test`, `.cache/venv-clients` and `clients/node_modules`.

use std::path::Path;
use std::process::Command;

/// Runs a test script on this build's binary; its output is the failure message.
fn run_script(script: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // stderr into stdout, so the script's own lines and the tools' reports stay in order.
    let out = Command::new("bash")
        .args(["-c", "exec bash \"$1\" \"$2\" 2>&1", "run-script", script])
        .arg(env!("CARGO_BIN_EXE_sightline"))
        .current_dir(root)
        .output()
        .expect("bash could not be started");
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn api_keeps_its_openapi_contract() {
    run_script("scripts/api-contract.sh");
}

#[test]
fn the_spec_lints_clean_and_generated_clients_work() {
    run_script("scripts/api-clients.sh");
}
