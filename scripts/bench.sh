#!/usr/bin/env bash
# Benchmarks on this machine; figures go into the README. Sizes can be lowered:
#   BENCH_EVENTS=100000 BENCH_VERIFY_ENTRIES=1000000 BENCH_SETTLE_EVENTS="1000000 10000000"
set -euo pipefail
cd "$(dirname "$0")/.."
python=".venv/bin/python"
.venv/bin/ledger infra up >/dev/null

echo "== ingest + process (${BENCH_EVENTS:-100000} events)"
$python -m benchmarks.ingest_bench --events "${BENCH_EVENTS:-100000}"

echo "== HTTP ingest: POST /v1/events, batches of 1,000, 4 clients (${BENCH_HTTP_SECONDS:-20} s)"
$python -m benchmarks.http_ingest_bench --seconds "${BENCH_HTTP_SECONDS:-20}" --batch 1000 --concurrency 4

echo "== verify (${BENCH_VERIFY_ENTRIES:-1000000} entries)"
server_url="$($python -c 'from infra.services import ensure_services; print(ensure_services().database_url)')"
$python -m benchmarks.verify_bench --server-url "$server_url" --entries "${BENCH_VERIFY_ENTRIES:-1000000}"

for events in ${BENCH_SETTLE_EVENTS:-1000000 10000000}; do
  echo "== settle a month of $events events"
  $python -m benchmarks.settle_bench --events "$events"
done
