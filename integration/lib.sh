# Shared by the live integrations' run.sh scripts (sourced after they define log and die): the
# authbench binary, one server process and a scratch folder, both cleaned up on exit.

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
