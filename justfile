# Kilang CRM recipes. `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

export DATABASE_URL := env_var_or_default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
export REDIS_URL := env_var_or_default("REDIS_URL", "redis://127.0.0.1:6379")

# Run the whole CRM embedded (SQLite under ./data) on 127.0.0.1:50051.
dev *ARGS:
    cargo run -p crm -- serve {{ARGS}}

# Every test suite; the Postgres and Redis ones against the local servers (`just up` starts them).
test *ARGS:
    cargo test --workspace {{ARGS}}

# Only the suites that need nothing installed.
test-embedded *ARGS:
    env -u DATABASE_URL -u REDIS_URL -u KAFKA_BROKERS -u MONGODB_URL cargo test --workspace {{ARGS}}

# Formatting, clippy (warnings are errors) and buf lint.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    buf lint

# Fast compile check of everything, tests included.
check:
    cargo check --workspace --all-targets

# Format Rust code.
fmt:
    cargo fmt --all

# Contracts: breaking changes against a git ref (default: the previous commit).
breaking REF="HEAD~1":
    buf breaking --against '.git#ref={{REF}}'

# List every service and method of a running CRM through reflection.
methods ADDR="127.0.0.1:50051":
    buf curl --protocol grpc --http2-prior-knowledge --list-methods http://{{ADDR}}

# Health of a running CRM (the whole process, or one service).
health ADDR="127.0.0.1:50051" SERVICE="":
    buf curl --protocol grpc --http2-prior-knowledge -d '{"service":"{{SERVICE}}"}' http://{{ADDR}}/grpc.health.v1.Health/Check

export KAFKA_BROKERS := env_var_or_default("KAFKA_BROKERS", "127.0.0.1:9092")

# Start the local PostgreSQL, Redis and Kafka (tansu) the microservice-mode suites use.
up:
    .ci/services.sh up
    .ci/services.sh kafka

# Only the Kafka-compatible broker (builds tansu once, about 13 minutes).
kafka-up:
    .ci/services.sh kafka

# Print the effective configuration (secrets redacted).
config *ARGS:
    cargo run -q -p crm -- config {{ARGS}}

# Benchmarks (release build): login throughput vs raw argon2id, latency percentiles, peak RSS;
# events/s and commit-to-handle latency on the embedded bus and Kafka; the revocation check's
# share of an authenticated call (memory, and Redis with REDIS_URL).
bench:
    cargo bench -p crm --bench login
    cargo bench -p crm --bench revocation
    cargo bench -p crm-events --bench bus
