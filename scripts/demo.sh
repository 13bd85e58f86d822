#!/usr/bin/env bash
# The whole partnership, end to end through the HTTP API: seven municipalities, five
# vendors, two school months (about 1,000,000 events by default) with double clicks,
# resent batches, late events and bad events; settlements with adjustments, exports
# (JSON, CSV, EHF), verify, a replay that reproduces everything, and a summary table.
#
#   DEMO_EVENTS=200000 make demo      # a smaller run
#   DEMO_SEED, DEMO_WORKSPACE, DEMO_OUT, DEMO_PORT  change the rest
#
# Each step prints one line; the server's and worker's logs go to $out/logs.
set -euo pipefail
cd "$(dirname "$0")/.."

ledger=".venv/bin/ledger"
python=".venv/bin/python"
events="${DEMO_EVENTS:-1000000}"
seed="${DEMO_SEED:-1}"
workspace="${DEMO_WORKSPACE:-demo_$(date +%Y%m%d_%H%M%S)}"
out="${DEMO_OUT:-demo-out/$workspace}"
port="${DEMO_PORT:-$($python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
url="http://127.0.0.1:$port"
logs="$out/logs"
tokens="$out/tokens.txt"
mkdir -p "$logs"
export LEDGER_WORKSPACE="$workspace"

background_pids=()
stop_background() {
  for pid in "${background_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${background_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  background_pids=()
}
trap stop_background EXIT

started_all=$SECONDS
# step LABEL COMMAND...: runs COMMAND with its stdout in a log, then prints one line: the
# label, the time taken and the command's last line of output. Progress bars (stderr, on
# a terminal only) show while it runs. On failure the log is shown and the demo stops.
step() {
  local label="$1" log
  shift
  log="$logs/$(echo "$label" | tr -c 'a-zA-Z0-9' '_' | cut -c1-40).log"
  local started=$SECONDS
  if ! "$@" > "$log" 2>> "$log.err"; then
    printf '%-44s FAILED after %ss\n' "$label" "$((SECONDS - started))"
    cat "$log" "$log.err" >&2
    exit 1
  fi
  printf '%-44s %4ss  %s\n' "$label" "$((SECONDS - started))" "$(tail -n 1 "$log")"
}
# Like step, but the command's stderr (its progress bar) stays on the terminal.
step_with_progress() {
  local label="$1" log
  shift
  log="$logs/$(echo "$label" | tr -c 'a-zA-Z0-9' '_' | cut -c1-40).log"
  local started=$SECONDS
  if ! "$@" > "$log"; then
    printf '%-44s FAILED after %ss\n' "$label" "$((SECONDS - started))"
    cat "$log" >&2
    exit 1
  fi
  printf '%-44s %4ss  %s\n' "$label" "$((SECONDS - started))" "$(tail -n 1 "$log")"
}

wait_until_answers() {
  local deadline=$((SECONDS + 60))
  until $python -c "import httpx,sys; sys.exit(httpx.get('$url/readyz', timeout=2).status_code != 200)" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "ledger serve did not answer on $url; see $logs/serve.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "answering on $url"
}

echo "Partnership demo: workspace $workspace, $events events, seed $seed, files in $out"
infra_up() { $ledger infra up && echo "running (how to reach them: $logs/Kafka_and_PostgreSQL_.log)"; }
step "Kafka and PostgreSQL (first run installs)" infra_up
step_with_progress "Generating the partnership" \
  $ledger demo generate --events "$events" --seed "$seed" --out "$out/data"
step "Loading the catalogue" $ledger catalogue load "$out/data/catalogue.yaml"
step "Creating tokens for every party" \
  $ledger demo tokens "$out/data" --out "$tokens"

$ledger serve --port "$port" > "$logs/serve.log" 2>&1 &
background_pids+=($!)
$ledger worker > "$logs/worker.log" 2>&1 &
background_pids+=($!)
step "Starting ledger serve and ledger worker" wait_until_answers

step_with_progress "Vendors send September" \
  $ledger demo send "$out/data" --part 2026-09 --url "$url" --tokens "$tokens"
# Use goes on while the operator settles September: the worker processes both meanwhile.
step_with_progress "Vendors send October" \
  $ledger demo send "$out/data" --part 2026-10 --url "$url" --tokens "$tokens"
# The per-pupil licence charges from August: August is a period with usage.
step_with_progress "Worker catches up; settling August 2026" \
  $ledger demo settle --period 2026-08 --url "$url" --tokens "$tokens"
step_with_progress "Settling September 2026" \
  $ledger demo settle --period 2026-09 --url "$url" --tokens "$tokens"
step_with_progress "Late September events arrive" \
  $ledger demo send "$out/data" --part 2026-10-late --url "$url" --tokens "$tokens"
step_with_progress "Settling October (+ September adjustments)" \
  $ledger demo settle --period 2026-10 --url "$url" --tokens "$tokens"
stop_background  # the replay below wants both cores

export_all() {
  # Explicit checks: `step` runs this as an `if` condition, where `set -e` does not apply.
  local pids=() format pid failed=0
  for format in json csv ehf; do
    (for period in 2026-08 2026-09 2026-10; do
      $ledger export --period "$period" --format "$format" --out "$out/settlements" || exit 1
    done) > "$logs/export_$format.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if ((failed)); then
    echo "an export failed: see $logs/export_*.log"
    return 1
  fi
  echo "$(ls "$out/settlements" | wc -l) files in $out/settlements (JSON, CSV, EHF)"
}
# The replay keeps one core busy for minutes: exports and verify use the other meanwhile.
(
  step "Exporting JSON, CSV and EHF" export_all
  step "Verifying chains and settlement digests" $ledger verify
) > "$logs/alongside_replay.lines" &
alongside=$!
step_with_progress "Replaying into ${workspace}_replay" \
  $ledger replay --to-workspace "${workspace}_replay"
wait "$alongside" || { cat "$logs/alongside_replay.lines"; exit 1; }
cat "$logs/alongside_replay.lines"

echo
$ledger demo summary
echo
echo "Done in $((SECONDS - started_all))s. Serve the pages:"
echo "  $ledger serve --workspace $workspace --port 8000"
echo "then open http://127.0.0.1:8000/ and sign in with one of these tokens (all parties' are in $tokens):"
token_of() { awk -v scope="$1" -v subject="$2" '$1 == scope && $2 == subject {print $3; exit}' "$tokens"; }
first_vendor="$(awk '$1 == "vendor" {print $2; exit}' "$tokens")"
printf '  %-30s %s\n' "municipality (Bærum, 3201):" "$(token_of municipality 3201)"
printf '  %-30s %s\n' "vendor ($first_vendor):" "$(token_of vendor "$first_vendor")"
printf '  %-30s %s\n' "auditor:" "$(token_of auditor revisor)"
