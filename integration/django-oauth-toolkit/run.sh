#!/usr/bin/env bash
# Live integration: authbench against a real django-oauth-toolkit (DOT) server.
#
# What it does (every step bounded by `timeout`, all traffic on 127.0.0.1 except pip):
#   1. creates a virtualenv under target/dot-integration/ and pip-installs the pinned
#      requirements.txt (Django, django-oauth-toolkit, waitress); SKIPs (exit 0) when pip cannot
#      reach its package index;
#   2. for two server configurations — REFRESH_TOKEN_GRACE_PERIOD_SECONDS=0 ("strict") and =2
#      ("grace") — creates a fresh sqlite database, migrates, seeds user0..user999 / pw-N and a
#      confidential password-grant application, and serves dotbench/ on 127.0.0.1:<free port>;
#   3. runs `authbench check` with scenarios/targets/django-oauth-toolkit.yaml (base_url pointed at
#      that port) and expected-failures[-grace].yaml, and compares every check's verdict with
#      expected-verdicts[-grace].txt;
#   3b. (strict configuration) runs `authbench init` against the server and checks the profile it
#      writes against the same recorded verdicts;
#   4. (strict configuration) runs storm.yaml against DOT, and storm-mock.yaml (the same scenario)
#      against the builtin mock, and prints `authbench compare` of the two reports.
# Exit: 0 all verdicts as recorded · 1 a verdict changed or a step failed · 0 with "SKIP: ..." when
# the environment cannot run it (no python3/venv, package index unreachable).
#
# Environment: AUTHBENCH (binary, default target/debug/authbench, built if missing),
# DOT_OUT (reports folder, default reports/dot-integration), PIP_INDEX_URL (honoured by pip).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

OUT="${DOT_OUT:-reports/dot-integration}"
PROFILE_SRC="scenarios/targets/django-oauth-toolkit.yaml"
GRACE_SECONDS=2
ACCESS_TTL=6

INTEGRATION=dot   # the [dot] prefix of its log lines
# shellcheck source=../lib.sh
source "$ROOT/integration/lib.sh"

# --- 1. python, virtualenv, packages --------------------------------------------------------
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed; the django-oauth-toolkit integration needs it"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || skip "python3 has no venv/ensurepip module (Debian: apt-get install python3-venv)"

REQ_HASH="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest()[:12])' "$HERE/requirements.txt")"
VENV="target/dot-integration/venv-$REQ_HASH"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]] || ! "$PY" -c 'import django, oauth2_provider, waitress' >/dev/null 2>&1; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  timeout 120 python3 -m venv "$VENV" || skip "python3 -m venv failed (is python3-venv installed?)"
  log "pip install -r requirements.txt (pinned)"
  if ! timeout 240 "$PY" -m pip install --disable-pip-version-check --quiet \
        --retries 1 --timeout 20 -r "$HERE/requirements.txt"; then
    INDEX="${PIP_INDEX_URL:-$("$PY" -m pip config get global.index-url 2>/dev/null || echo https://pypi.org/simple/)}"
    if ! timeout 20 python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' "$INDEX" >/dev/null 2>&1; then
      rm -rf "$VENV"
      skip "pip cannot reach its package index ($INDEX); the django-oauth-toolkit integration needs Django and django-oauth-toolkit from it"
    fi
    rm -rf "$VENV"
    die "pip install failed although the package index answers"
  fi
fi
log "$("$PY" -c 'from importlib.metadata import version as v; print("Django", v("Django"), "· django-oauth-toolkit", v("django-oauth-toolkit"), "· waitress", v("waitress"))')"

# --- authbench -------------------------------------------------------------------------------
ensure_authbench

# --- shared state ----------------------------------------------------------------------------
scratch_dir dot

mkdir -p "$OUT"
# Only what this script writes (DOT_OUT may point anywhere).
rm -rf "$OUT"/check-strict* "$OUT"/check-grace* "$OUT"/storm-dot "$OUT"/storm-mock "$OUT"/init.* \
  "$OUT"/junit-check-*.xml "$OUT"/server-*.log "$OUT"/compare.txt "$OUT"/compare.html
export PYTHONDONTWRITEBYTECODE=1
export DJANGO_SETTINGS_MODULE=dotbench.settings
export AUTHBENCH_CLIENT_ID="authbench-dot"
AUTHBENCH_CLIENT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export AUTHBENCH_CLIENT_SECRET
DJANGO_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
export DJANGO_SECRET_KEY
export DOTBENCH_ACCESS_TTL="$ACCESS_TTL"
export DOTBENCH_REFRESH_TTL=3600
export NO_COLOR=1

# Starts DOT with REFRESH_TOKEN_GRACE_PERIOD_SECONDS=$1 on a fresh database; sets PORT.
start_server() {
  local grace="$1" name="$2"
  export DOTBENCH_GRACE_SECONDS="$grace"
  export DOTBENCH_DB="$TMP/$name.sqlite3"
  (cd "$HERE" && timeout 120 "$ROOT/$PY" manage.py migrate --verbosity 0) || die "migrate failed"
  (cd "$HERE" && timeout 60 "$ROOT/$PY" manage.py seed_authbench --users 1000) || die "seeding failed"
  local log_file="$OUT/server-$name.log"
  # waitress picks a free port (port 0) and prints it; select()-based, so stay well below 1024 fds.
  (cd "$HERE" && exec "$ROOT/$VENV/bin/waitress-serve" --listen=127.0.0.1:0 --threads=4 \
      --connection-limit=400 dotbench.wsgi:application) >"$log_file" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 200); do
    PORT="$(grep -o 'Serving on http://127.0.0.1:[0-9]*' "$log_file" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)"
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log_file" >&2; die "the DOT server exited at start"; }
    sleep 0.1
  done
  [[ -n "$PORT" ]] || die "the DOT server did not report its port within 20 s"
  # Ready = the protected API answers 401 to a request without a token.
  timeout 20 "$PY" - "$PORT" <<'EOF' || die "the DOT server on port $PORT did not become ready"
import sys, time, urllib.request, urllib.error
url = f"http://127.0.0.1:{sys.argv[1]}/api/me"
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError as e:
        if e.code == 401:
            break
    except OSError:
        pass
    time.sleep(0.1)
EOF
  # The committed profile says base_url http://127.0.0.1:8000; point a copy at the chosen port.
  PROFILE="$TMP/django-oauth-toolkit.yaml"
  sed "s#^base_url: .*#base_url: http://127.0.0.1:$PORT#" "$PROFILE_SRC" >"$PROFILE"
  grep -q "^base_url: http://127.0.0.1:$PORT\$" "$PROFILE" || die "could not set base_url in the profile copy"
  log "DOT ($name, grace ${grace}s, access tokens ${ACCESS_TTL}s) on 127.0.0.1:$PORT"
}

FAILED=0
# Runs `authbench check` and compares every verdict with the recorded table.
run_check() {
  local name="$1" expected_failures="$2" verdicts="$3"
  local json="$OUT/check-$name.json" rc=0
  timeout 180 "$AUTHBENCH" check "$PROFILE" --expected-failures "$expected_failures" \
    --junit "$OUT/junit-check-$name.xml" --out "$OUT/check-$name" --json >"$json" \
    2>"$OUT/check-$name.stderr" || rc=$?
  log "authbench check ($name): exit $rc"
  if [[ $rc -ne 0 ]]; then
    log "authbench check ($name) failed on an unexpected deviation (exit $rc); see $OUT/check-$name/summary.txt"
    FAILED=1
  fi
  if ! "$PY" "$ROOT/integration/verdicts.py" "$json" "$verdicts"; then
    log "verdicts ($name) differ from $(basename "$verdicts")"
    FAILED=1
  else
    log "verdicts ($name) match $(basename "$verdicts")"
  fi
}

# --- 2.-4. strict configuration: no grace period ----------------------------------------------
start_server 0 strict
run_check strict "$HERE/expected-failures.yaml" "$HERE/expected-verdicts.txt"
# `authbench init` against the same server (DOT publishes no discovery document here, so the
# endpoints come from flags): the profile it writes must give the same verdicts, unedited.
HAND_PROFILE="$PROFILE"
PROFILE="$TMP/init.yaml"
if ! timeout 60 "$AUTHBENCH" init "http://127.0.0.1:$PORT" --out "$PROFILE" --token-path /o/token/ \
    --revoke-path /o/revoke_token/ --introspect-path /o/introspect/ --resource /api/me \
    --probe --user user0 --password pw-0 >"$OUT/init.log" 2>&1; then
  cat "$OUT/init.log" >&2
  log "authbench init against DOT failed"
  FAILED=1
else
  cp "$PROFILE" "$OUT/init.yaml"
  log "authbench init wrote $OUT/init.yaml; checking it"
  run_check strict-init "$HERE/expected-failures.yaml" "$HERE/expected-verdicts.txt"
fi
PROFILE="$HAND_PROFILE"
run_storm "$HERE/storm.yaml" "$OUT/storm-dot" --target "$PROFILE"
stop_server

# --- grace configuration: REFRESH_TOKEN_GRACE_PERIOD_SECONDS=2 --------------------------------
start_server "$GRACE_SECONDS" grace
run_check grace "$HERE/expected-failures-grace.yaml" "$HERE/expected-verdicts-grace.txt"
stop_server

# --- the same storm against the builtin mock, and the comparison -------------------------------
run_storm "$HERE/storm-mock.yaml" "$OUT/storm-mock"
if [[ -f "$OUT/storm-mock/report.json" && -f "$OUT/storm-dot/report.json" ]]; then
  if timeout 60 "$AUTHBENCH" compare "$OUT/storm-mock" "$OUT/storm-dot" --html "$OUT/compare.html" \
      >"$OUT/compare.txt" 2>&1; then
    cat "$OUT/compare.txt"
  else
    log "authbench compare is not available here: $(head -1 "$OUT/compare.txt")"
  fi
fi

if [[ $FAILED -ne 0 ]]; then
  die "django-oauth-toolkit integration: verdicts changed or a run failed (reports in $OUT)"
fi
log "PASS: every verdict as recorded (reports in $OUT)"
