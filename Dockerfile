# The runner image: build with the pinned toolchain, ship the binary on a slim Debian.
FROM rust:1.95-slim-bookworm AS build
# DuckDB is compiled into the binary (the default `duckdb-bundled` feature): C++17 needs g++,
# which the slim image lacks.
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/runner

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/runner /usr/local/bin/runner
WORKDIR /work
ENTRYPOINT ["runner"]
