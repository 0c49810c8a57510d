# Shared by the live integrations' run.sh scripts (sourced after they set ROOT, HERE, OUT and
# INTEGRATION, their name): log, skip and die; the authbench binary, one server process and a
# scratch folder, both cleaned up on exit; pinned node packages; the recorded-verdicts check and the
# storm that must pass.

log() { printf '[%s] %s\n' "$INTEGRATION" "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; exit 0; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

AUTHBENCH="${AUTHBENCH:-target/debug/authbench}"

# Builds $AUTHBENCH when it is missing. Called once the script's packages and server are
# installed: with INTEGRATION_PREPARE_ONLY=1 the script ends here instead (.ci/run installs every
# integration's packages in the background while the workspace compiles, then runs them).
ensure_authbench() {
  if [[ -n "${INTEGRATION_PREPARE_ONLY:-}" ]]; then
    log "prepared: packages and server installed (INTEGRATION_PREPARE_ONLY)"
    exit 0
  fi
  if [[ ! -x "$AUTHBENCH" ]]; then
    log "building $AUTHBENCH"
    timeout 900 cargo build -p authbench --bin authbench
  fi
  [[ -x "$AUTHBENCH" ]] || die "no authbench binary at $AUTHBENCH"
}

# The server under test: start it in the background and set SERVER_PID.
SERVER_PID=""

# Stops the server: TERM, up to 5 s to exit, then KILL.
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# Sets TMP to a fresh scratch folder named after $1; on exit the server is stopped and TMP removed.
scratch_dir() {
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/authbench-$1.XXXXXX")"
  trap 'stop_server; rm -rf "$TMP"' EXIT
  trap 'exit 130' INT TERM
}

# SKIPs (exit 0) unless node >= 20 and npm are installed; $1 names the integration.
require_node() {
  command -v node >/dev/null 2>&1 || skip "node is not installed; the $1 integration needs it (Debian: apt-get install nodejs npm)"
  command -v npm >/dev/null 2>&1 || skip "npm is not installed; the $1 integration needs it (Debian: apt-get install npm)"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
    || skip "node $(node --version) is older than 20 (the $1 integration needs node >= 20)"
}

# Installs the pinned node packages of $HERE/package.json and package-lock.json into $NODE_DIR with
# `npm ci`, unless they are there already ($NODE_DIR/node_modules/$1 present and the same lock
# file); $2 says what the packages are, for the SKIP message when npm's registry cannot be reached.
npm_install_pinned() {
  local marker="$1" what="$2"
  mkdir -p "$NODE_DIR"
  if cmp -s "$HERE/package-lock.json" "$NODE_DIR/package-lock.json" && [[ -d "$NODE_DIR/node_modules/$marker" ]]; then
    return 0
  fi
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
  log "npm ci (pinned: $(node -e 'const d=require(process.argv[1]).dependencies; console.log(Object.entries(d).map(([k,v])=>k+" "+v).join(", "))' "$HERE/package.json"))"
  if ! (cd "$NODE_DIR" && timeout 240 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    local registry
    registry="$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)"
    if ! timeout 30 npm ping >/dev/null 2>&1; then
      rm -rf "$NODE_DIR/node_modules" "$NODE_DIR/package-lock.json"
      skip "npm cannot reach its registry ($registry); $what"
    fi
    die "npm ci failed although the registry answers"
  fi
}

# Runs `authbench check` on the profile $2 (further arguments go to it) with
# $HERE/expected-failures.yaml, writing $OUT/$1.json, $OUT/junit-$1.xml and $OUT/$1/, and compares
# every verdict with $HERE/expected-verdicts.txt (integration/verdicts.py). $1 names the run
# (`check`, `check-init`). Sets FAILED=1 when the check fails on an unexpected deviation or a
# verdict changed. A check that ended in ERROR where another verdict is recorded is run once more
# (`--only`): ERROR means authbench could not run it, e.g. the server answered outside the contract.
check_recorded_verdicts() {
  local name="$1" profile="$2" rc=0 rerun_rc=0
  shift 2
  local json="$OUT/$name.json" verdicts="$ROOT/integration/verdicts.py"
  timeout 300 "$AUTHBENCH" check "$profile" "$@" --expected-failures "$HERE/expected-failures.yaml" \
    --junit "$OUT/junit-$name.xml" --out "$OUT/$name" --json >"$json" 2>"$OUT/$name.stderr" || rc=$?
  log "authbench check ($name): exit $rc"
  if python3 "$verdicts" "$json" "$HERE/expected-verdicts.txt"; then
    log "verdicts ($name) match expected-verdicts.txt"
    [[ $rc -eq 0 ]] || { log "authbench check ($name) exit $rc; see $OUT/$name/summary.txt"; FAILED=1; }
    return
  fi
  # A check authbench could not run (ERROR) where another verdict is recorded runs once more;
  # any other change fails at once (see integration/verdicts.py).
  local errors
  errors=$(python3 "$verdicts" "$json" "$HERE/expected-verdicts.txt" --unrecorded-errors)
  if [[ -n "$errors" ]]; then
    log "re-running $errors once: ERROR, authbench could not run it (first run above)"
    timeout 300 "$AUTHBENCH" check "$profile" "$@" --only "$errors" \
      --expected-failures "$HERE/expected-failures.yaml" --out "$OUT/$name-rerun" --json \
      >"$OUT/$name-rerun.json" 2>"$OUT/$name-rerun.stderr" || rerun_rc=$?
    if python3 "$verdicts" "$json" "$HERE/expected-verdicts.txt" --rerun "$OUT/$name-rerun.json"; then
      log "verdicts ($name) match expected-verdicts.txt after re-running $errors (exit $rerun_rc)"
      return
    fi
  fi
  log "verdicts ($name) differ from expected-verdicts.txt; see $OUT/$name/summary.txt"
  FAILED=1
}

# Runs the scenario $1 into the folder $2 (further arguments go to `authbench run`, e.g. --target)
# and prints its latency table; sets FAILED=1 unless its thresholds are met.
run_storm() {
  local scenario="$1" out="$2" rc=0
  shift 2
  timeout 150 "$AUTHBENCH" run "$scenario" "$@" --out "$out" --quiet || rc=$?
  if [[ $rc -ne 0 ]]; then
    log "authbench run $scenario: exit $rc (thresholds not met or run failed); see $out/summary.txt"
    FAILED=1
  else
    log "authbench run $scenario: thresholds met"
  fi
  # The latency table of the summary (the first box after the header).
  [[ -f "$out/summary.txt" ]] && sed -n '/│ latency/,/^└/p' "$out/summary.txt" || true
}
