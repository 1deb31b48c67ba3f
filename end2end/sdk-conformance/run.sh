#!/usr/bin/env bash
# Drives the standalone Descope emulator with Descope's official Python and Node SDKs.
#
#   end2end/sdk-conformance/run.sh
#
# EMULATOR_BIN   path of a built descope-emulator (default: build it with cargo from the repo root)
# PYTHON         interpreter used to create python/.venv (default: python3)
#
# Exits non-zero if either suite fails. Everything stays on 127.0.0.1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sdk-conformance.XXXXXX")"
EMULATOR_PIDS=()
LOGS_SHOWN=0

show_emulator_logs() {
  local logfile shown=0
  for logfile in "$WORK"/main.log "$WORK"/clock.log "$WORK"/faults.log; do
    [[ -s "$logfile" ]] || continue
    echo "--- last lines of $logfile ---" >&2
    tail -n 40 "$logfile" >&2 || true
    shown=1
  done
  (( shown )) && echo "[sdk-conformance] emulator logs kept in $WORK" >&2
  LOGS_SHOWN=1
}

cleanup() {
  local status=$? pid
  for pid in "${EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || continue
    # Bounded: give it 5 s to stop, then force it.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  (( status == 0 || LOGS_SHOWN )) || show_emulator_logs
  compgen -G "$WORK/*.log" >/dev/null && (( status != 0 )) || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[sdk-conformance] %s\n' "$*" >&2; }
started_at=$SECONDS

# --- the emulator binary -------------------------------------------------------------------------
if [[ -n "${EMULATOR_BIN:-}" ]]; then
  BIN="$EMULATOR_BIN"
else
  log "EMULATOR_BIN not set: building descope-emulator"
  (cd "$REPO_ROOT" && cargo build --features ssr --bin descope-emulator)
  target_dir="${CARGO_TARGET_DIR:-target}"
  [[ "$target_dir" = /* ]] || target_dir="$REPO_ROOT/$target_dir"
  BIN="$target_dir/debug/descope-emulator"
fi
[[ -x "$BIN" ]] || { log "emulator binary not found or not executable: $BIN"; exit 2; }

# --- Python: reuse python/.venv unless the pinned versions differ --------------------------------
PY_DIR="$HERE/python"
VENV="$PY_DIR/.venv"
[[ -x "$VENV/bin/python" ]] || "${PYTHON:-python3}" -m venv "$VENV"
if ! "$VENV/bin/python" - "$PY_DIR/requirements.txt" <<'PY'
import sys
from importlib import metadata

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, wanted = line.partition("==")
    try:
        installed = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if installed != wanted.strip():
        sys.exit(1)
PY
then
  log "installing python/requirements.txt into python/.venv"
  "$VENV/bin/pip" install --disable-pip-version-check -q -r "$PY_DIR/requirements.txt"
fi

# --- Node: npm ci unless node_modules matches package-lock.json ----------------------------------
NODE_DIR="$HERE/node"
lock_sum="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
stamp="$NODE_DIR/node_modules/.sdk-conformance-lock.sha256"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  log "npm ci in node/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

# --- start emulators on free loopback ports with fresh in-memory stores --------------------------
# The binary also reads EMULATOR_* variables (an EMULATOR_DB file among them, the same names the
# app reads): scrub them so the caller's environment cannot turn the fresh in-memory store into an
# old file or change a limit. It refuses the names it read before (DESCOPE_EMULATOR_*): scrub
# those too, so a stale one in the caller's shell cannot stop the run.
scrub=()
while IFS= read -r name; do scrub+=(-u "$name"); done < <(compgen -e | grep -E '^(DESCOPE_)?EMULATOR_' || true)

# start_emulator NAME ARGS...: starts one emulator (no --db: in memory, so it starts empty), waits
# at most 30 s for its ready line and for GET /v2/keys/<projectId> to answer 200, and sets
# STARTED_URL and STARTED_PROJECT.
start_emulator() {
  local name="$1"; shift
  local logfile="$WORK/$name.log"
  env "${scrub[@]}" "$BIN" --addr 127.0.0.1:0 "$@" >"$logfile" 2>&1 &
  local pid=$!
  EMULATOR_PIDS+=("$pid")
  STARTED_URL="" STARTED_PROJECT=""
  local deadline=$((SECONDS + 30)) ready_line
  # The binary prints "descope-emulator ready: base_url=http://127.0.0.1:PORT project_id=P2... outbox=...".
  while [[ -z "$STARTED_URL" ]]; do
    kill -0 "$pid" 2>/dev/null || { log "$name: the emulator exited during start-up"; return 1; }
    (( SECONDS < deadline )) || { log "$name: no ready line within 30 s"; return 1; }
    ready_line="$(grep -m1 'descope-emulator ready:' "$logfile" || true)"
    if [[ -n "$ready_line" ]]; then
      STARTED_URL="$(sed -n 's/.*base_url=\([^ ]*\).*/\1/p' <<<"$ready_line")"
      STARTED_PROJECT="$(sed -n 's/.*project_id=\([^ ]*\).*/\1/p' <<<"$ready_line")"
    else
      sleep 0.1
    fi
  done
  case "$STARTED_URL" in
    http://127.0.0.1:*|http://localhost:*) ;;
    *) log "$name: base URL is not loopback: $STARTED_URL"; return 1 ;;
  esac
  until curl -fsS -o /dev/null --max-time 2 "$STARTED_URL/v2/keys/$STARTED_PROJECT"; do
    (( SECONDS < deadline )) || { log "$name: GET /v2/keys/$STARTED_PROJECT not 200 within 30 s"; return 1; }
    sleep 0.1
  done
  log "$name emulator ready at $STARTED_URL (project $STARTED_PROJECT)"
}

# The suites learn the emulators' coordinates and limits from CONFORMANCE_* (the binary reads none
# of these: it gets its settings as flags).
MANAGEMENT_KEY="conformance-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
export CONFORMANCE_MANAGEMENT_KEY="$MANAGEMENT_KEY"
export CONFORMANCE_MAX_ATTEMPTS=5
export CONFORMANCE_RATE_LIMIT_MAX=5
export CONFORMANCE_RATE_LIMIT_WINDOW_SECS=60
export CONFORMANCE_CODE_TTL_SECS=300
limits=(
  --management-key "$MANAGEMENT_KEY"
  --code-ttl-secs "$CONFORMANCE_CODE_TTL_SECS"
  --max-attempts "$CONFORMANCE_MAX_ATTEMPTS"
  --rate-limit-max "$CONFORMANCE_RATE_LIMIT_MAX"
  --rate-limit-window-secs "$CONFORMANCE_RATE_LIMIT_WINDOW_SECS"
)

# The main emulator runs on the real clock: every token it issues must validate in the SDKs.
start_emulator main "${limits[@]}"
export CONFORMANCE_BASE_URL="$STARTED_URL"
export CONFORMANCE_PROJECT_ID="$STARTED_PROJECT"

# A second one, only for expiry tests, may have its clock moved (POST /emulator/clock/advance).
# It is separate because tokens issued after a jump carry an iat in the SDKs' future.
if "$BIN" --help 2>/dev/null | grep -q -- '--allow-time-travel'; then
  export CONFORMANCE_REFRESH_TTL_SECS=3600
  start_emulator clock "${limits[@]}" --refresh-ttl-secs "$CONFORMANCE_REFRESH_TTL_SECS" --allow-time-travel
  export CONFORMANCE_CLOCK_BASE_URL="$STARTED_URL"
else
  log "this emulator has no --allow-time-travel: the expiry tests will be skipped"
fi

# A third one, only for fault-injection and key-rotation tests (test_faults.py, faults.test.mjs):
# a fault or a retired key there never reaches a test running against the main emulator.
if "$BIN" --help 2>/dev/null | grep -q -- '--allow-faults'; then
  start_emulator faults "${limits[@]}" --allow-faults
  export CONFORMANCE_FAULTS_BASE_URL="$STARTED_URL"
else
  log "this emulator has no --allow-faults: the fault-injection tests will be skipped"
fi
log "emulators ready after $((SECONDS - started_at)) s"

# Neither SDK may pick up a real project's settings from the caller's environment.
unset DESCOPE_BASE_URI DESCOPE_MANAGEMENT_KEY DESCOPE_AUTH_MANAGEMENT_KEY DESCOPE_PUBLIC_KEY DESCOPE_PROJECT_ID

# --- the suites ----------------------------------------------------------------------------------
py_status=0
node_status=0
suite_started=$SECONDS
log "python suite (descope SDK) ..."
(cd "$PY_DIR" && "$VENV/bin/python" -m pytest -p no:cacheprovider) 2>&1 | tee "$WORK/python.out" || py_status=$?
log "python suite exit $py_status in $((SECONDS - suite_started)) s"

suite_started=$SECONDS
log "node suite (@descope/node-sdk) ..."
(cd "$NODE_DIR" && node --test --test-timeout=60000) 2>&1 | tee "$WORK/node.out" || node_status=$?
log "node suite exit $node_status in $((SECONDS - suite_started)) s"

# One closing line over both suites (pytest's "N passed, M failed" line; node's "# pass N" lines).
count() { grep -oE "$1" "$2" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(( $(count '[0-9]+ passed' "$WORK/python.out") + $(count '^(# |ℹ )pass [0-9]+' "$WORK/node.out") ))
failed=$(( $(count '[0-9]+ (failed|error)' "$WORK/python.out") + $(count '^(# |ℹ )fail [0-9]+' "$WORK/node.out") ))
skipped=$(( $(count '[0-9]+ skipped' "$WORK/python.out") + $(count '^(# |ℹ )skipped [0-9]+' "$WORK/node.out") ))
(( py_status == 0 && node_status == 0 )) || show_emulator_logs
log "total $((SECONDS - started_at)) s; python exit $py_status, node exit $node_status"
echo "sdk-conformance: $passed passed, $failed failed, $skipped skipped"
if (( py_status != 0 || node_status != 0 )); then
  exit 1
fi
