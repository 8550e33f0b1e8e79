# The two commands: `make run` and `make test`. Both set up what is missing first.
SHELL := bash
CARGO ?= cargo

.PHONY: setup build run test lint bench clean

## Install system packages, ONNX Runtime, the default model and sample media (cached in .cache/).
setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

## The server on http://127.0.0.1:8080 with embedded defaults; a first start with an empty store
## processes the sample video so there is something to see at once.
run: build
	./target/release/sightline serve --sample .cache/media/vtest.avi

## Formatting, lints, then every test (unit, actor, end-to-end, API contract), then the browser
## tests of the web UI (headless Chromium; screenshots in target/browser-artifacts/).
test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked
	bash scripts/browser-test.sh target/debug/sightline

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Benchmarks: the detector alone, the default model's accuracy gate, then the pipeline on
## vtest.avi and on a 720p version of it (with the default model and the FP32 one), the pipeline's
## peak memory on a 4x longer input and on a 4K one, picture per bit against ffmpeg, time to the
## first playable segment, the store, a detection across nodes, scale-out, memory across 50
## jobs in a row, and how many 720p 30 fps live sources one machine sustains.
bench: build
	./target/release/sightline bench detect
	./target/release/sightline bench accuracy
	./target/release/sightline bench pipeline .cache/media/vtest.avi
	./target/release/sightline bench pipeline .cache/media/vtest_1280x720.mp4
	./target/release/sightline bench pipeline .cache/media/vtest_1280x720.mp4 --model .cache/models/yolov4-tiny.onnx
	./target/release/sightline bench pipeline .cache/media/vtest_1280x720_x4.mp4 --pipeline-only
	./target/release/sightline bench pipeline .cache/media/vtest_4k.mp4 --pipeline-only
	bash scripts/bench-quality.sh target/release/sightline
	bash scripts/bench-first-segment.sh target/release/sightline
	./target/release/sightline bench store
	./target/release/sightline bench remote
	bash scripts/bench-cluster.sh target/release/sightline .cache/media/vtest.avi
	bash scripts/bench-soak.sh 50
	$(CARGO) build --release --locked --example rtsp_camera
	bash scripts/bench-live.sh target/release/sightline

clean:
	$(CARGO) clean
