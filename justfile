# Kilang CRM recipes. `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The local backends `just up` starts; only the recipes that use them set them.
database_url := env_var_or_default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
redis_url := env_var_or_default("REDIS_URL", "redis://127.0.0.1:6379")
kafka_brokers := env_var_or_default("KAFKA_BROKERS", "127.0.0.1:9092")
oidc_modules := env_var_or_default("OIDC_PROVIDER_MODULES", env_var("HOME") + "/.cache/kilang-crm/npm")
aiosmtpd_path := env_var_or_default("AIOSMTPD_PYTHONPATH", env_var("HOME") + "/.cache/kilang-crm/py")
backends := "DATABASE_URL=" + database_url + " REDIS_URL=" + redis_url + " KAFKA_BROKERS=" + kafka_brokers + " OIDC_PROVIDER_MODULES=" + oidc_modules

# Run the whole CRM embedded (SQLite under ./data) on 127.0.0.1:50051; no backend is used.
dev *ARGS:
    env -u DATABASE_URL -u REDIS_URL -u KAFKA_BROKERS -u MONGODB_URL cargo run -p crm -- serve {{ARGS}}

# (Building the Kafka broker takes about 13 minutes the first time.)
# Every suite, backends included: starts PostgreSQL, Redis and Kafka first (`just up`), and a
# MongoDB wire-protocol server (SecantusDB) unless MONGODB_URL names a MongoDB already.
test *ARGS: up
    MONGODB_URL=${MONGODB_URL:-$(.ci/services.sh mongodb)} {{backends}} cargo test --workspace --all-features {{ARGS}} -- --include-ignored

# (Backend suites are listed as ignored, each with what it needs.)
# Only the suites that need nothing installed: the README's `cargo test --workspace`.
test-embedded *ARGS:
    env -u DATABASE_URL -u REDIS_URL -u KAFKA_BROKERS -u MONGODB_URL cargo test --workspace {{ARGS}}

# Runs every ```console block of README.md and its guides (docs/) against a fresh `crm serve` (needs buf and jq; port 50051 free).
walkthrough:
    cargo build -p crm
    WALKTHROUGH_CRM=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/debug/crm python3 .ci/walkthrough.py

# Checks the OpenAPI document with its adopters' tools (validator, Redocly, openapi-typescript,
# openapi-python-client) and schemathesis with every check, against a fresh crm serve.
check-openapi:
    cargo build -p crm
    .ci/check-openapi.sh $(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/debug/crm

# Builds the web console into web/dist (embedded in the `crm` binary; commit it).
web:
    cd web && npm install --no-audit --no-fund && npm test && npm run build

# The console's journey in Debian's Chromium against a fresh `crm serve` (after `just web`).
web-e2e:
    cargo build -p crm
    .ci/web-e2e.sh $(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/debug/crm

# Checks the deployment files offline: compose, the helm chart, alerts, dashboards, Envoy.
check-deploy:
    cargo build -p crm
    .ci/check-deploy.sh $(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/debug/crm

# Formatting, clippy (warnings are errors) and buf lint.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    buf lint

# Fast compile check of everything, tests included.
check:
    cargo check --workspace --all-targets --all-features

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

# Start the local PostgreSQL, Redis and Kafka (tansu) the microservice-mode suites use.
up:
    .ci/services.sh up
    .ci/services.sh kafka

# Only the Kafka-compatible broker (builds tansu once, about 13 minutes).
kafka-up:
    .ci/services.sh kafka

# The production shape on this machine: `just cluster up` starts iam x1, customer x2, sales x2,
# notification x1 and edge x2 on PostgreSQL, Redis, tansu and aiosmtpd (`just up` first) and
# prints `edge 127.0.0.1:PORT` last; `just cluster ps` lists the processes as JSON lines;
# `just cluster check` runs a journey through every context, the broker and the mail;
# `just cluster down` stops them and removes their data (deploy/cluster/cluster.py); faults:
# `just cluster kill customer-1` (stop, start, restart), `stop-redis`, `cut-postgres`, ...
cluster *ARGS="up":
    python3 deploy/cluster/cluster.py {{ARGS}}

# A sales team's day as load (Locust, headless) on the cluster's first edge, or `--host URL`:
# `just load 200 5m`; then the read-back of every acknowledged write and a report in load/reports/.
load USERS="50" DURATION="2m" *ARGS:
    python3 load/run.py --users {{USERS}} --duration {{DURATION}} {{ARGS}}

# The soak: a long load on the cluster (80% of its measured capacity of 450 people) with a
# customer, a sales and an edge process killed, the broker stopped 30 s, Redis 10 s and the
# database cut 10 s, all in the first ten minutes (a longer DURATION ends quiet); memory sampled
# every 10 s; then the read-back.
soak USERS="360" DURATION="10m":
    python3 load/soak.py --users {{USERS}} --duration {{DURATION}}

# The largest load within p99 250 ms and no failure, cluster and embedded side by side.
capacity *ARGS:
    python3 load/capacity.py {{ARGS}}

# Print the effective configuration (secrets redacted).
config *ARGS:
    cargo run -q -p crm -- config {{ARGS}}

# (Login throughput vs raw argon2id, percentiles and peak RSS; the revocation check's share of an
# authenticated call; events/s and commit-to-handle latency, embedded and on Kafka; customers,
# sales, and notifications: events to a real SMTP server, in-app to 1,000 watchers.)
# Benchmarks, release build, against the local Redis and Kafka (`just up`).
bench:
    DATABASE_URL={{database_url}} cargo bench -p crm-core --bench engine
    cargo bench -p crm --bench login
    REDIS_URL={{redis_url}} cargo bench -p crm --bench revocation
    KAFKA_BROKERS={{kafka_brokers}} cargo bench -p crm-events --features kafka --bench bus
    DATABASE_URL={{database_url}} MONGODB_URL=${MONGODB_URL:-$(.ci/services.sh mongodb)} cargo bench -p crm --features mongodb --bench customers
    DATABASE_URL={{database_url}} cargo bench -p crm --bench sales
    AIOSMTPD_PYTHONPATH={{aiosmtpd_path}} cargo bench -p crm --bench notifications
    REDIS_URL={{redis_url}} cargo bench -p crm --bench edge
    cargo bench -p crm --bench activity
