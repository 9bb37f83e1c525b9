# The action's container: two static (musl) binaries on distroless/static, which
# carries CA certificates and /etc/passwd and nothing else (no libc, no shell).
# The runner builds this file for `image: Dockerfile`; a release replaces that with
# the digest of the image that .github/workflows/release.yml built from it.

FROM rust:1-alpine AS builder
# musl-dev: crt files and headers for linking, and for ring's C and assembly.
# The version is whatever the base image's Alpine release carries: Alpine drops
# superseded package revisions from its mirrors, so pinning one breaks the build.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /build

# Dependencies first: this layer is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN cargo fetch --locked

COPY build.rs ./
COPY github-api/ github-api/
COPY src/ src/
RUN cargo build --release --locked --offline --bins \
    && mkdir -p /out \
    && cp target/release/app-token target/release/app-token-post /out/

# Root on purpose (no USER): the runner mounts its workspace and file-command
# files (GITHUB_OUTPUT, GITHUB_STATE, ...) owned by its own user, and a Docker
# action's container writes them as root.
# distroless publishes rolling tags only (latest, nonroot, debug): `latest` is
# the root variant.
# hadolint ignore=DL3007
FROM gcr.io/distroless/static-debian12:latest
COPY --from=builder /out/app-token /out/app-token-post /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/app-token"]
