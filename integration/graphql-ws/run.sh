#!/usr/bin/env bash
# Live integration: authbench's first-message WebSocket authentication against a server built on the
# graphql-ws npm library (protocol graphql-transport-ws; the protocol and its close codes are the
# library's, server.mjs only checks tokens with the mock's introspection endpoint).
#
# What it does (every step bounded by `timeout`, all traffic on 127.0.0.1 except npm):
#   1. `npm ci` of the pinned package.json/package-lock.json into target/graphql-ws-integration/;
#      SKIPs (exit 0) when node/npm are missing or npm's registry cannot be reached;
#   2. starts the authbench mock (`authbench mock --port 0`) and server.mjs on 127.0.0.1:<free port>;
#   3. runs sockets.yaml twice — with target.yaml (token in connection_init, accepted) and with a
#      copy whose first message carries a token the server cannot know (refused with 4403) — and
#      compares the counters of each report.json with expected-metrics.txt;
#   4. runs `authbench check --only WS-01` (no token, a garbage token, a forged signature in the first
#      message) and compares the verdict with expected-verdicts.txt.
# Exit: 0 all metrics as recorded · 1 a metric differs or a step failed · 0 with "SKIP: ..." when the
# environment cannot run it.
#
# Environment: AUTHBENCH (binary, default target/debug/authbench, built if missing),
# GQLWS_OUT (reports folder, default reports/graphql-ws-integration), npm_config_registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

OUT="${GQLWS_OUT:-reports/graphql-ws-integration}"
NODE_DIR="target/graphql-ws-integration"

INTEGRATION=graphql-ws   # the [graphql-ws] prefix of its log lines
# shellcheck source=../lib.sh
source "$ROOT/integration/lib.sh"

# --- 1. node, npm, packages ------------------------------------------------------------------
require_node graphql-ws   # graphql-ws 6 needs node >= 20

npm_install_pinned graphql-ws "the graphql-ws integration needs graphql-ws, ws and graphql from it"
cp "$HERE/server.mjs" "$NODE_DIR/server.mjs"

# --- authbench -------------------------------------------------------------------------------
ensure_authbench

# --- 2. the mock and the graphql-ws server ---------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/authbench-gqlws.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"
rm -rf "$OUT"/accepted "$OUT"/refused "$OUT"/mock.log "$OUT"/server.log
export NO_COLOR=1

# Waits until `pattern` appears in `file` (a server's start line) and prints its last field.
wait_line() {
  local file="$1" pattern="$2" pid="$3" what="$4"
  for _ in $(seq 1 200); do
    if grep -q "$pattern" "$file" 2>/dev/null; then
      grep "$pattern" "$file" | head -1 | awk '{print $NF}'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what exited at start"; }
    sleep 0.1
  done
  die "$what did not start within 20 s"
}

"$AUTHBENCH" mock --port 0 --access-ttl 30s >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
MOCK_URL="$(wait_line "$OUT/mock.log" '^authbench-mock listening on' "${PIDS[-1]}" "the mock")"
ADMIN_KEY="$(wait_line "$OUT/mock.log" '^admin key:' "${PIDS[-1]}" "the mock")"
log "mock on $MOCK_URL"

(cd "$NODE_DIR" && MOCK_URL="$MOCK_URL" ADMIN_KEY="$ADMIN_KEY" exec node server.mjs) >"$OUT/server.log" 2>&1 &
PIDS+=($!)
GQL_ADDR="$(wait_line "$OUT/server.log" '^graphql-ws listening on' "${PIDS[-1]}" "the graphql-ws server")"
log "graphql-ws server on $GQL_ADDR ($(node -e 'console.log("graphql-ws "+require(process.argv[1]).version)' "$ROOT/$NODE_DIR/node_modules/graphql-ws/package.json"))"

# The committed profile points at fixed ports; copies point at the chosen ones.
ACCEPTED="$TMP/target.yaml"
sed -e "s#^base_url: .*#base_url: $MOCK_URL#" -e "s#^  url: ws://.*#  url: ws://$GQL_ADDR/graphql#" \
  "$HERE/target.yaml" >"$ACCEPTED"
grep -q "url: ws://$GQL_ADDR/graphql" "$ACCEPTED" || die "could not set the WebSocket URL in the profile copy"
REFUSED="$TMP/target-refused.yaml"
sed -e 's#"Bearer {{access_token}}"#"Bearer not-{{access_token}}"#' "$ACCEPTED" >"$REFUSED"
grep -q 'Bearer not-' "$REFUSED" || die "could not make the refused profile"

# --- 3. runs and their metrics ---------------------------------------------------------------
FAILED=0
for run in accepted refused; do
  profile="$ACCEPTED"; [[ $run == refused ]] && profile="$REFUSED"
  rc=0
  timeout 120 "$AUTHBENCH" run "$HERE/sockets.yaml" --target "$profile" --out "$OUT/$run" --quiet || rc=$?
  log "authbench run sockets.yaml ($run): exit $rc"
  [[ -f "$OUT/$run/report.json" ]] || { log "no report for $run"; FAILED=1; continue; }
  if ! node - "$OUT/$run/report.json" "$HERE/expected-metrics.txt" "$run" <<'EOF'; then
const fs = require("fs");
const [report, expected, run] = process.argv.slice(2);
const counters = JSON.parse(fs.readFileSync(report, "utf8")).counters;
let bad = 0;
for (const raw of fs.readFileSync(expected, "utf8").split("\n")) {
  const line = raw.split("#")[0].trim();
  if (!line) continue;
  const [which, name, want] = line.split(/\s+/);
  if (which !== run) continue;
  const got = counters[name] ?? 0;
  const ok = String(got) === want;
  if (!ok) bad++;
  console.log(`  ${ok ? "ok     " : "CHANGED"} ${run.padEnd(8)} ${name.padEnd(24)} ${String(got).padStart(5)} (recorded ${want})`);
}
process.exit(bad ? 1 : 0);
EOF
    log "metrics ($run) differ from expected-metrics.txt"
    FAILED=1
  else
    log "metrics ($run) match expected-metrics.txt"
  fi
done

# WS-01 (the handshake needs a valid credential) with the token in the first message: no token, a
# garbage token and a forged signature must each be refused — by the library's 4403 Forbidden.
rc=0
timeout 120 "$AUTHBENCH" check "$ACCEPTED" --only WS-01 --json >"$OUT/check.json" 2>"$OUT/check.stderr" || rc=$?
log "authbench check --only WS-01: exit $rc"
if ! node - "$OUT/check.json" "$HERE/expected-verdicts.txt" <<'EOF'; then
const fs = require("fs");
const [report, expected] = process.argv.slice(2);
const got = Object.fromEntries(JSON.parse(fs.readFileSync(report, "utf8")).results.map((r) => [r.meta.id, r]));
let bad = 0;
for (const raw of fs.readFileSync(expected, "utf8").split("\n")) {
  const line = raw.split("#")[0].trim();
  if (!line) continue;
  const [id, want] = line.split(/\s+/);
  const status = got[id]?.status ?? "MISSING";
  const ok = want.split("|").includes(status);
  if (!ok) bad++;
  console.log(`  ${ok ? "ok     " : "CHANGED"} ${id.padEnd(6)} ${status.padEnd(5)} (recorded ${want})  ${(got[id]?.message ?? "").slice(0, 100)}`);
}
process.exit(bad ? 1 : 0);
EOF
  log "verdicts differ from expected-verdicts.txt"
  FAILED=1
else
  log "verdicts match expected-verdicts.txt"
fi

[[ $FAILED -eq 0 ]] || die "the graphql-ws integration found differences (reports in $OUT)"
log "PASS"
