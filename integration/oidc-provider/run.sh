#!/usr/bin/env bash
# Live integration: authbench against node oidc-provider (panva/node-oidc-provider, an OpenID
# Certified provider library for Node.js that authbench's authors did not write), signing every
# client in through the authorization-code flow with PKCE and a real sign-in form.
#
# What it does (every step bounded by `timeout`, all traffic on 127.0.0.1 except npm):
#   1. `npm ci` of the pinned package.json/package-lock.json into target/oidc-provider-integration/;
#      SKIPs (exit 0) when node/npm are missing or npm's registry cannot be reached;
#   2. starts server.mjs (the library configured as scenarios/targets/oidc-provider.yaml describes)
#      on 127.0.0.1:<free port>;
#   3. runs `authbench check` with scenarios/targets/oidc-provider.yaml (base_url pointed at that
#      port) and expected-failures.yaml, and compares every verdict with expected-verdicts.txt;
#      then the same with the profile `authbench init` writes from the provider's discovery;
#   4. runs storm.yaml against it; its thresholds must pass.
# Exit: 0 all verdicts as recorded and the storm's thresholds met · 1 a verdict changed or a step
# failed · 0 with "SKIP: ..." when the environment cannot run it.
#
# Environment: AUTHBENCH (binary, default target/debug/authbench, built if missing),
# OIDCP_OUT (reports folder, default reports/oidc-provider-integration), npm_config_registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

OUT="${OIDCP_OUT:-reports/oidc-provider-integration}"
NODE_DIR="target/oidc-provider-integration"
PROFILE_SRC="scenarios/targets/oidc-provider.yaml"
ACCESS_TTL=6

INTEGRATION=oidc-provider   # the [oidc-provider] prefix of its log lines
# shellcheck source=../lib.sh
source "$ROOT/integration/lib.sh"

# --- 1. node, npm, packages ------------------------------------------------------------------
# oidc-provider 9 runs on node 20 (it prints "Unsupported runtime" below 22 LTS, and works).
require_node oidc-provider
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed; the oidc-provider integration compares verdicts with it"

npm_install_pinned oidc-provider "the oidc-provider integration needs oidc-provider from it"
cp "$HERE/server.mjs" "$NODE_DIR/server.mjs"

# --- authbench -------------------------------------------------------------------------------
ensure_authbench

# --- 2. the provider -------------------------------------------------------------------------
scratch_dir oidc-provider
mkdir -p "$OUT"
rm -rf "$OUT"/check* "$OUT"/junit-check*.xml "$OUT"/storm "$OUT"/init.log "$OUT"/server.log
export NO_COLOR=1
export AUTHBENCH_CLIENT_ID="authbench-ci"
AUTHBENCH_CLIENT_SECRET="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export AUTHBENCH_CLIENT_SECRET

(cd "$NODE_DIR" && PORT=0 CLIENT_ID="$AUTHBENCH_CLIENT_ID" CLIENT_SECRET="$AUTHBENCH_CLIENT_SECRET" \
  REDIRECT_URI="http://127.0.0.1:3000/cb" AT_TTL="$ACCESS_TTL" exec node server.mjs) >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 200); do
  URL="$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$OUT/server.log" | head -1)"
  [[ -n "$URL" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; die "server.mjs exited at start"; }
  sleep 0.1
done
[[ -n "$URL" ]] || die "server.mjs did not start within 20 s"
log "oidc-provider $(node -e 'console.log(require(process.argv[1]).version)' "$ROOT/$NODE_DIR/node_modules/oidc-provider/package.json") on $URL (node $(node --version))"

# The committed profile points at a fixed port; the copy points at the chosen one.
PROFILE="$TMP/oidc-provider.yaml"
sed "s#^base_url: .*#base_url: $URL#" "$PROFILE_SRC" >"$PROFILE"
grep -q "^base_url: $URL\$" "$PROFILE" || die "could not set base_url in the profile copy"

# --- 3. the catalog ----------------------------------------------------------------------------
FAILED=0
check_recorded_verdicts check "$PROFILE"

# `authbench init` against the same provider: from its discovery (no password grant announced) it
# drafts the authorization-code flow; the profile it writes must give the same verdicts, unedited.
if timeout 60 "$AUTHBENCH" init "$URL" --out "$TMP/init.yaml" --redirect-uri "http://127.0.0.1:3000/cb" \
    --form "form#login" --probe --user user0 --password pw-0 >"$OUT/init.log" 2>&1; then
  log "authbench init wrote a profile from the provider's discovery (the authorization-code flow)"
  check_recorded_verdicts check-init "$TMP/init.yaml"
else
  cat "$OUT/init.log" >&2
  log "authbench init failed"
  FAILED=1
fi

# --- 4. the storm --------------------------------------------------------------------------------
run_storm "$HERE/storm.yaml" "$OUT/storm" --target "$PROFILE"

[[ $FAILED -eq 0 ]] || die "the oidc-provider integration found differences (reports in $OUT)"
log "PASS"
