# The two commands: `make run` and `make test`. Both set up what is missing first.
SHELL := bash
CARGO ?= cargo

.PHONY: setup build run test lint bench clean

## Install system packages, ONNX Runtime, the default model and sample media (cached in .cache/).
setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

## Until the server lands, `run` shows the detector on the sample photos.
run: build
	./target/release/sightline detect .cache/media/dog.jpg .cache/media/person.jpg .cache/media/horses.jpg

## Formatting, lints, then every test (unit, actor, end-to-end).
test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Detector benchmark: ms/inference at 1 and 2 threads, 2 workers x 1 thread vs 1 x 2.
bench: build
	./target/release/sightline bench detect

clean:
	$(CARGO) clean
