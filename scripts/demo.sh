#!/usr/bin/env bash
# The product in two minutes: a catalogue, two months of usage with mistakes, late
# events and duplicates, settlements with an adjustment, exports (JSON, CSV, EHF),
# verify, trace and a replay that reproduces everything.
set -euo pipefail
cd "$(dirname "$0")/.."

ledger=".venv/bin/ledger"
python=".venv/bin/python"
workspace="${DEMO_WORKSPACE:-demo_$(date +%Y%m%d_%H%M%S)}"
out="${DEMO_OUT:-demo-out/$workspace}"
mkdir -p "$out/events"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting Kafka (KRaft) and PostgreSQL (first run installs them)"
$ledger infra up --workspace "$workspace"

step "Loading the catalogue: 3 municipalities, 2 vendors, 4 licences"
$ledger catalogue load examples/catalogue.yaml --workspace "$workspace"

step "Generating usage: September, late September events, October"
$python -m ledger.demo.simulate examples/catalogue.yaml --period 2026-09 --events 20000 --seed 1 --id-prefix sep --out "$out/events/september.jsonl"
$python -m ledger.demo.simulate examples/catalogue.yaml --period 2026-09 --events 300 --seed 3 --id-prefix late --out "$out/events/late-september.jsonl"
$python -m ledger.demo.simulate examples/catalogue.yaml --period 2026-10 --events 20000 --seed 2 --id-prefix oct --out "$out/events/october.jsonl"

step "Vendors send September, plus some mistakes and a resent batch"
$ledger ingest "$out/events/september.jsonl" --workspace "$workspace"
$ledger ingest examples/bad-events.jsonl --workspace "$workspace"
head -n 500 "$out/events/september.jsonl" > "$out/events/resent.jsonl"
$ledger ingest "$out/events/resent.jsonl" --workspace "$workspace"
$ledger process --until-idle --workspace "$workspace"

step "Settling August 2026 (no events yet, but the per-pupil licence charges from August)"
$ledger settle --period 2026-08 --workspace "$workspace"

step "Settling September 2026"
$ledger settle --period 2026-09 --workspace "$workspace"

step "Late September events arrive with October"
$ledger ingest "$out/events/late-september.jsonl" --workspace "$workspace"
$ledger ingest "$out/events/october.jsonl" --workspace "$workspace"

step "Month-to-date view of October (budgets and caps)"
$ledger usage --period 2026-10 --workspace "$workspace"

step "Settling October 2026 (with adjustments for late September events)"
$ledger settle --period 2026-10 --workspace "$workspace"

step "Exporting JSON, CSV and EHF e-invoices to $out/settlements"
for format in json csv ehf; do
  for period in 2026-08 2026-09 2026-10; do
    $ledger export --period "$period" --format "$format" --out "$out/settlements" --workspace "$workspace"
  done
done

step "Auditor: verifying every hash chain and settlement digest"
$ledger verify --workspace "$workspace"

step "Auditor: tracing an October settlement line to its events"
$ledger trace "2026-10_3201_987654325" --line 1 --workspace "$workspace" | head -n 12

step "Auditor: replaying the raw log into an empty workspace"
$ledger replay --to-workspace "${workspace}_replay" --workspace "$workspace"

step "Archiving September for the five-year retention"
$ledger archive --period 2026-09 --out "$out/archive" --workspace "$workspace"

step "Done"
echo "workspace: $workspace   files: $out"
ls "$out/settlements" | head -n 20
