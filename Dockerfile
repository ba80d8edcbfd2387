# rctsim in a container image, for Kubernetes and other container engines.
#
# The image holds one static binary, which embeds every hardware profile and sweep
# spec, and nothing else: FROM scratch pulls no base image, so the build works offline.
# Build the binary first, in the repository's root:
#
#   CGO_ENABLED=0 go build -trimpath -o rctsim ./cmd/rctsim
#   podman build -t rctsim .          # or: docker build -t rctsim . / buildah bud -t rctsim .
#   podman run --rm rctsim sweep --check lenet5_array_sram
#
# It runs as user 65532 (no name: the image has no /etc/passwd); give that user a
# volume to write results to (Kubernetes: securityContext.fsGroup: 65532). There is no
# shell: run rctsim's commands directly (rctsim merge expands a quoted
# results/shard-*.csv itself). .ci/container-test builds and runs it in CI.
FROM scratch
COPY rctsim /rctsim
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/rctsim"]
CMD ["help"]
