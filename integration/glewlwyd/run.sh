#!/usr/bin/env bash
# Live integration: authbench against a real Glewlwyd (Debian package `glewlwyd`, a C
# OAuth2/OpenID Connect server that authbench's authors did not write).
#
# What it does (every step bounded by `timeout`, all traffic on 127.0.0.1 except apt-get):
#   1. finds `glewlwyd` (or, as root with apt-get, installs the Debian package); SKIPs (exit 0)
#      when it cannot be had, and when openssl or python3 are missing;
#   2. creates a fresh sqlite database from the package's init script, a config on
#      127.0.0.1:<free port>, an RSA signing key, and starts Glewlwyd;
#   3. configures it through its admin API (setup.py): the OpenID Connect plugin with rotated
#      refresh tokens and 6 s access tokens, a confidential client, users user0..user299;
#   4. runs `authbench check --jobs 1` with scenarios/targets/glewlwyd.yaml (base_url pointed at
#      that port) and expected-failures.yaml, and compares every verdict with expected-verdicts.txt;
#   5. runs storm.yaml against it; its thresholds must pass.
# Exit: 0 all verdicts as recorded · 1 a verdict changed or a step failed · 0 with "SKIP: ..." when
# the environment cannot run it.
#
# Environment: AUTHBENCH (binary, default target/debug/authbench, built if missing),
# GLEWLWYD_OUT (reports folder, default reports/glewlwyd-integration).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

OUT="${GLEWLWYD_OUT:-reports/glewlwyd-integration}"
PROFILE_SRC="scenarios/targets/glewlwyd.yaml"
ACCESS_TTL=6
USERS=300

INTEGRATION=glewlwyd   # the [glewlwyd] prefix of its log lines
# shellcheck source=../lib.sh
source "$ROOT/integration/lib.sh"

# --- 1. the server package and the tools ----------------------------------------------------
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed; the Glewlwyd integration configures the server with it"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed; the Glewlwyd integration makes its signing key with it"
if ! command -v glewlwyd >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing the Debian package glewlwyd"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get install -y --no-install-recommends glewlwyd >/dev/null 2>&1 \
      || { timeout 180 apt-get update >/dev/null 2>&1 || true
           timeout 300 apt-get install -y --no-install-recommends glewlwyd >/dev/null 2>&1 || true; }
  fi
  command -v glewlwyd >/dev/null 2>&1 \
    || skip "the Debian package glewlwyd is not installed and could not be installed here (apt-get install glewlwyd)"
fi
INIT_SQL=/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz
MODULES=/usr/lib/glewlwyd
[[ -f "$INIT_SQL" && -d "$MODULES" ]] || skip "glewlwyd is installed but not as the Debian package lays it out ($INIT_SQL, $MODULES)"
log "$(dpkg-query -W -f='glewlwyd ${Version}' glewlwyd 2>/dev/null || glewlwyd --version 2>&1 | head -1)"

# --- authbench -------------------------------------------------------------------------------
ensure_authbench

# --- 2. a fresh server -----------------------------------------------------------------------
scratch_dir glewlwyd

mkdir -p "$OUT"
rm -rf "$OUT"/check "$OUT"/storm "$OUT"/check.json "$OUT"/check.stderr "$OUT"/junit-check.xml "$OUT"/server.log
export NO_COLOR=1
export AUTHBENCH_CLIENT_ID="authbench-glewlwyd"
AUTHBENCH_CLIENT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export AUTHBENCH_CLIENT_SECRET

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
python3 - "$INIT_SQL" "$TMP/glewlwyd.db" <<'EOF' || die "could not create the sqlite database"
import gzip, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.executescript(gzip.open(sys.argv[1], "rt").read())
db.commit()
EOF
openssl genrsa -out "$TMP/key.pem" 2048 2>/dev/null || die "openssl genrsa failed"
openssl rsa -in "$TMP/key.pem" -pubout -out "$TMP/pub.pem" 2>/dev/null || die "openssl rsa -pubout failed"
cat >"$TMP/glewlwyd.conf" <<EOF
port=$PORT
bind_address="127.0.0.1"
external_url="$URL"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="console"
log_level="WARNING"
cookie_secure=0
session_expiration=2419200
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="$MODULES/user"
client_module_path="$MODULES/client"
user_auth_scheme_module_path="$MODULES/scheme"
plugin_module_path="$MODULES/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "$TMP/glewlwyd.db" }
EOF
glewlwyd --config-file="$TMP/glewlwyd.conf" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
# Ready = the admin login answers.
timeout 20 python3 - "$URL" <<'EOF' || { cat "$OUT/server.log" >&2; die "Glewlwyd on $URL did not become ready"; }
import json, sys, time, urllib.request, urllib.error
body = json.dumps({"username": "admin", "password": "password"}).encode()
while True:
    try:
        request = urllib.request.Request(sys.argv[1] + "/api/auth/", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=2)
        break
    except (OSError, urllib.error.HTTPError):
        time.sleep(0.1)
EOF
log "configuring Glewlwyd on $URL ($USERS users; about 0.1 s each)"
# `--opt=value`: a random secret may begin with "-" (1 in 64), which argparse takes for an option.
timeout 300 python3 "$HERE/setup.py" --url "$URL" --key "$TMP/key.pem" --cert "$TMP/pub.pem" \
  --client-id="$AUTHBENCH_CLIENT_ID" --client-secret="$AUTHBENCH_CLIENT_SECRET" \
  --users "$USERS" --access-ttl "$ACCESS_TTL" || die "configuring Glewlwyd failed (see $OUT/server.log)"

# The committed profile says base_url http://127.0.0.1:4593/api/oidc; point a copy at the port.
PROFILE="$TMP/glewlwyd.yaml"
sed "s#^base_url: .*#base_url: $URL/api/oidc#" "$PROFILE_SRC" >"$PROFILE"
grep -q "^base_url: $URL/api/oidc\$" "$PROFILE" || die "could not set base_url in the profile copy"

FAILED=0
# --- 4. the catalog, one check at a time -----------------------------------------------------
check_recorded_verdicts check "$PROFILE" --jobs 1

# --- 5. the storm ----------------------------------------------------------------------------
run_storm "$HERE/storm.yaml" "$OUT/storm" --target "$PROFILE"

if [[ $FAILED -ne 0 ]]; then
  die "Glewlwyd integration: verdicts changed or a run failed (reports in $OUT)"
fi
log "PASS: every verdict as recorded (reports in $OUT)"
