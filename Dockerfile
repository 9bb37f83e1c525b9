# The action's container: one static (musl) executable and a CA bundle on an
# empty image (scratch): no libc, no shell, no package database.
#
#   /usr/local/bin/app-token        the executable: runs.entrypoint (main)
#   /usr/local/bin/app-token-post   a symlink to it: runs.post-entrypoint; the
#                                   executable runs the post step when started
#                                   by that name
#   /etc/ssl/certs/ca-certificates.crt   the TLS roots (rustls-native-certs reads
#                                   this path; SSL_CERT_FILE still overrides it)
#
# The runner builds this file for `image: Dockerfile`; a release replaces that
# with the digest of the image that .github/workflows/release.yml built from it.
#
# The runtime stage (last) copies everything from the stage named by the build
# argument BINARY_STAGE, which lays the files out as above:
#   builder (default): compiles from source; release and `image: Dockerfile`.
#   local: takes target/docker-local/ from the build context, where .ci/container
#          puts a static binary built on the host, its symlink and the host's CA
#          bundle. With BuildKit, the builder stage is then never built (nothing
#          is pulled), and the runtime stage is the same one that ships.
ARG BINARY_STAGE=builder

# xx: Docker's cross-compilation helpers (xx-cargo, xx-apk, xx-verify). Its
# version tags are immutable (its README says so).
FROM --platform=$BUILDPLATFORM tonistiigi/xx:1.9.0 AS xx

# Compiles on the build machine's own platform for TARGETPLATFORM's musl target
# (x86_64- or aarch64-unknown-linux-musl): a cross compiler, not QEMU emulation.
FROM --platform=$BUILDPLATFORM rust:1.94-alpine3.23 AS compile
# The way xx's README installs its scripts (the image holds nothing else).
# hadolint ignore=DL3067
COPY --from=xx / /
# clang and lld: the C compiler and linker xx-cargo sets up for the target (ring
# has C and assembly). Versions are the base image's Alpine release's: Alpine
# drops superseded package revisions from its mirrors, so pinning one breaks the
# build.
# hadolint ignore=DL3018
RUN apk add --no-cache clang lld
WORKDIR /build

# Dependencies first, once for every target platform: this layer is reused
# until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN cargo fetch --locked

COPY build.rs ./
COPY github-api/ github-api/
COPY src/ src/
ARG TARGETPLATFORM
# The target's C library headers and crt files, in xx's sysroot for the target.
# hadolint ignore=DL3018
RUN xx-apk add --no-cache musl-dev gcc
RUN xx-cargo build --release --locked --offline --bin app-token \
    && bin="target/$(xx-cargo --print-target-triple)/release/app-token" \
    && xx-verify --static "$bin" \
    && mkdir -p /out/usr/local/bin /out/etc/ssl/certs \
    && cp "$bin" /out/usr/local/bin/app-token \
    && ln -s app-token /out/usr/local/bin/app-token-post \
    && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# The files of the image, and nothing else.
FROM scratch AS builder
COPY --from=compile /out/ /

# The same layout from the build context (see .ci/container and .dockerignore).
FROM scratch AS local
COPY target/docker-local/ /

# hadolint ignore=DL3006
FROM ${BINARY_STAGE} AS binary

FROM scratch
COPY --from=binary /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The directory, not its files one by one, so that the symlink stays a symlink.
COPY --from=binary /usr/local/bin/ /usr/local/bin/
# Root on purpose (no USER): the runner mounts its workspace and file-command
# files (GITHUB_OUTPUT, GITHUB_STATE, ...) owned by its own user, and a Docker
# action's container writes them as root. Exec form and an absolute path: the
# runner passes `--entrypoint` from action.yml, and the CLI uses this one.
ENTRYPOINT ["/usr/local/bin/app-token"]
