#!/bin/sh
# Regenerates onnx.pb.go from onnx.proto, ONNX's official message definition
# (github.com/onnx/onnx, file onnx/onnx.proto, Apache-2.0, see LICENSE), kept here
# unmodified. Needs protoc (Debian: apt-get install protobuf-compiler) and
# protoc-gen-go at the version of google.golang.org/protobuf in go.mod:
#
#	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#
# Run it with `go generate ./models/onnx/onnxpb`. To move to a newer ONNX, replace
# onnx.proto with the new release's file and run it again.
set -eu
cd "$(dirname "$0")"
protoc --go_out=. --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/rctsim/rctsim/models/onnx/onnxpb \
	onnx.proto
