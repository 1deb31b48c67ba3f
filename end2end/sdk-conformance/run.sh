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
EMULATOR_PID=""

cleanup() {
  local status=$?
  if [[ -n "$EMULATOR_PID" ]] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    # Bounded: give it 5 s to stop, then force it.
    for _ in $(seq 50); do kill -0 "$EMULATOR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$EMULATOR_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s "$WORK/emulator.log" ]]; then
    echo "--- last lines of the emulator's log ($WORK/emulator.log) ---" >&2
    tail -n 40 "$WORK/emulator.log" >&2 || true
  else
    rm -rf "$WORK"
  fi
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

# --- start the emulator on a free loopback port with a fresh in-memory store ---------------------
MANAGEMENT_KEY="conformance-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
MAX_ATTEMPTS=5
RATE_LIMIT_MAX=5
RATE_LIMIT_WINDOW_SECS=60

# The binary also reads DESCOPE_EMULATOR_* variables (a --db file among them): scrub them so the
# caller's environment cannot turn the fresh in-memory store into an old file or change a limit.
scrub=()
while IFS= read -r name; do scrub+=(-u "$name"); done < <(compgen -e | grep '^DESCOPE_EMULATOR_' || true)
# No --db: the store is in memory, so every run starts empty.
env "${scrub[@]}" "$BIN" \
  --addr 127.0.0.1:0 \
  --management-key "$MANAGEMENT_KEY" \
  --code-ttl-secs 300 \
  --max-attempts "$MAX_ATTEMPTS" \
  --rate-limit-max "$RATE_LIMIT_MAX" \
  --rate-limit-window-secs "$RATE_LIMIT_WINDOW_SECS" \
  >"$WORK/emulator.log" 2>&1 &
EMULATOR_PID=$!

# The binary prints "descope-emulator ready: base_url=http://127.0.0.1:PORT project_id=P2... outbox=...".
BASE_URL="" PROJECT_ID=""
deadline=$((SECONDS + 30))
while [[ -z "$BASE_URL" ]]; do
  kill -0 "$EMULATOR_PID" 2>/dev/null || { log "the emulator exited during start-up"; exit 1; }
  (( SECONDS < deadline )) || { log "the emulator printed no ready line within 30 s"; exit 1; }
  ready_line="$(grep -m1 'descope-emulator ready:' "$WORK/emulator.log" || true)"
  if [[ -n "$ready_line" ]]; then
    BASE_URL="$(sed -n 's/.*base_url=\([^ ]*\).*/\1/p' <<<"$ready_line")"
    PROJECT_ID="$(sed -n 's/.*project_id=\([^ ]*\).*/\1/p' <<<"$ready_line")"
  else
    sleep 0.1
  fi
done
case "$BASE_URL" in
  http://127.0.0.1:*|http://localhost:*) ;;
  *) log "the emulator's base URL is not loopback: $BASE_URL"; exit 1 ;;
esac
until curl -fsS -o /dev/null --max-time 2 "$BASE_URL/v2/keys/$PROJECT_ID"; do
  (( SECONDS < deadline )) || { log "GET /v2/keys/$PROJECT_ID did not answer 200 within 30 s"; exit 1; }
  sleep 0.1
done
log "emulator ready at $BASE_URL (project $PROJECT_ID) after $((SECONDS - started_at)) s"

export DESCOPE_EMULATOR_BASE_URL="$BASE_URL"
export DESCOPE_EMULATOR_PROJECT_ID="$PROJECT_ID"
export DESCOPE_EMULATOR_MANAGEMENT_KEY="$MANAGEMENT_KEY"
export DESCOPE_EMULATOR_MAX_ATTEMPTS="$MAX_ATTEMPTS"
export DESCOPE_EMULATOR_RATE_LIMIT_MAX="$RATE_LIMIT_MAX"
export DESCOPE_EMULATOR_RATE_LIMIT_WINDOW_SECS="$RATE_LIMIT_WINDOW_SECS"
# Neither SDK may pick up a real project's settings from the caller's environment.
unset DESCOPE_BASE_URI DESCOPE_MANAGEMENT_KEY DESCOPE_AUTH_MANAGEMENT_KEY DESCOPE_PUBLIC_KEY DESCOPE_PROJECT_ID

# --- the suites ----------------------------------------------------------------------------------
py_status=0
node_status=0
suite_started=$SECONDS
log "python suite (descope SDK) ..."
(cd "$PY_DIR" && "$VENV/bin/python" -m pytest -p no:cacheprovider) || py_status=$?
log "python suite exit $py_status in $((SECONDS - suite_started)) s"

suite_started=$SECONDS
log "node suite (@descope/node-sdk) ..."
(cd "$NODE_DIR" && node --test --test-timeout=60000) || node_status=$?
log "node suite exit $node_status in $((SECONDS - suite_started)) s"

log "total $((SECONDS - started_at)) s; python exit $py_status, node exit $node_status"
if (( py_status != 0 || node_status != 0 )); then
  exit 1
fi
