#!/usr/bin/env bash
# Everything `make run` and `make test` need beyond the Rust toolchain. Idempotent: a second run
# only checks checksums. Downloads are cached in .cache/ (gitignored).
set -euo pipefail
here="$(dirname "$0")"
bash "$here/system-packages.sh"
bash "$here/onnxruntime.sh"
bash "$here/venv.sh"
bash "$here/model.sh"
bash "$here/media.sh"
bash "$here/model-int8.sh"
bash "$here/test-media.sh"
bash "$here/web.sh"
bash "$here/api-tools.sh"
bash "$here/bench-media.sh"
