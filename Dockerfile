# syntax=docker/dockerfile:1
# One image with the four services, the IdP emulator and dcrctl (pick one with `command`).
# Dependencies are built in their own layer (cargo-chef), so a source change rebuilds
# only dcr's crates. protoc is vendored by the proto crate: no system packages needed.

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
      -p registry-svc -p token-svc -p authz-svc -p portal-svc -p dcr-idp-emulator -p dcrctl

FROM debian:bookworm-slim AS runtime
# /certs belongs to the services' user, so a named volume mounted there (docker-compose.yml)
# starts writable for the one-shot job that makes the certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin dcr \
 && mkdir /certs && chown 10001 /certs
COPY --from=builder /src/target/release/registry-svc \
                    /src/target/release/token-svc \
                    /src/target/release/authz-svc \
                    /src/target/release/portal-svc \
                    /src/target/release/dcr-idp-emulator \
                    /src/target/release/dcrctl /usr/local/bin/
USER 10001
ENV DCR_LOG_FORMAT=json
