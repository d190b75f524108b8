# vouch's container image: scripts/build-image builds it (with podman, buildah or docker).
#
# Two stages. `build` compiles the release binary from this checkout with the locked
# dependencies; the runtime stage is Debian slim with CA certificates (for registries and
# TUF mirrors over HTTPS), the binary and a non-root user. Slim rather than distroless:
# GitLab runs a job's `script:` through a shell inside the job's image.
#
# The bases are arguments so that a mirror (or the test's locally built bases, see
# scripts/test-image) can stand in for Docker Hub.
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p vouch-cli \
 && install -D -s -m 0755 target/release/vouch /out/vouch \
 && /out/vouch --version

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vouch
COPY --from=build /out/vouch /usr/local/bin/vouch

# The OCI image spec's annotations (image-spec/annotations.md), set by scripts/build-image.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="vouch" \
      org.opencontainers.image.description="Policy-as-code verification of Sigstore keyless signatures and attestations" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/vouch"]
CMD ["--help"]
