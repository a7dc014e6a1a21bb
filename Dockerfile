# syntax=docker/dockerfile:1.7
# The one `crm` binary in a small runtime image, as a non-root user. Every target runs from it:
# `docker run kilang/crm serve --target customer` (see docker-compose.yml and helm/crm).
#
#   docker build -t kilang/crm:dev .
#   docker run -p 50051:50051 kilang/crm:dev          # the whole CRM, embedded storage
#
# Dependencies are compiled in their own layer (cargo-chef): a change to the CRM's code rebuilds
# only the CRM's crates.

ARG RUST_VERSION=1.95

FROM lukemathwalker/cargo-chef:latest-rust-${RUST_VERSION}-bookworm AS chef
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# The commit `crm_build_info` reports (the checkout's .git is not in the build context).
ARG REVISION=unknown
ENV KILANG_BUILD_COMMIT=${REVISION}
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: cached until Cargo.toml or Cargo.lock change.
# The image runs every deployment shape, so it carries the production adapters (Kafka, MongoDB),
# which a laptop's `cargo run` leaves out to build faster.
RUN cargo chef cook --release --locked --package crm --features production --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --package crm --features production --bin crm \
 && install -D -m 0755 target/release/crm /out/usr/local/bin/crm \
 && install -d -o 65532 -g 65532 -m 0750 /out/var/lib/crm /out/var/lib/crm/keys /out/var/lib/crm/jwks

# glibc and libgcc, CA certificates, a `nonroot` user (65532); no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Kilang CRM" \
      org.opencontainers.image.description="A multi-tenant CRM as gRPC services: one binary, every target" \
      org.opencontainers.image.source="https://github.com/kilang-desa-murni/kilang-crm" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Kilang Desa Murni Batik" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/ /
USER 65532:65532
WORKDIR /var/lib/crm
ENV CRM_LISTEN=0.0.0.0:50051 \
    CRM_DATA_DIR=/var/lib/crm \
    CRM_LOG__FORMAT=json
EXPOSE 50051
VOLUME ["/var/lib/crm"]
# `crm serve` drains in-flight calls on SIGTERM, then exits 0.
STOPSIGNAL SIGTERM
# gRPC health through the binary itself: no extra tool in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/crm", "health", "--timeout-seconds", "4"]
ENTRYPOINT ["/usr/local/bin/crm"]
CMD ["serve"]
