# Multi-stage build: compile in the Rust image, run in a slim Debian with only what the
# binary needs. Build: docker build -t tipsa .   (docker-compose.yml does this for you)
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Everything the compiler reads: the sources, the migrations and defaults compiled in, the
# askama templates, and the stylesheet, script and translations built into the binary
# (include_str!). tests/api/project_files.rs checks this list against the sources.
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY templates ./templates
COPY static ./static
COPY locales ./locales
COPY benches ./benches
RUN cargo build --release --locked --bin tipsa

FROM debian:bookworm-slim
# ca-certificates for TLS to SMTP and PostgreSQL servers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home tipsa \
    && mkdir -p /app/var && chown tipsa /app/var
WORKDIR /app
COPY --from=builder /src/target/release/tipsa /usr/local/bin/tipsa
COPY config ./config
USER tipsa
ENV TIPSA__SERVER__HOST=0.0.0.0 \
    TIPSA__SERVER__PORT=8080 \
    TIPSA__LOG__FORMAT=json \
    TIPSA__VAR_DIR=/app/var
# 8080: the public HTTP port (put a proxy in front). 9464: `tipsa serve`'s metrics listener,
# 9465: `tipsa worker`'s ([metrics] listen / worker_listen; set them to 0.0.0.0:… in a
# container). Publish neither metrics port beyond the network Prometheus scrapes from.
EXPOSE 8080 9464 9465
# `tipsa healthcheck` asks this container's own /readyz; it suits `tipsa serve` only: a worker
# or one-off command container turns the check off (docker-compose.yml does).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["tipsa", "healthcheck"]
ENTRYPOINT ["tipsa"]
CMD ["serve"]
