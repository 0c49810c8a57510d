#!/usr/bin/env bash
# Every shipped scenario against broken servers: no run may pass while the server fails.
#
# Each scenario of scenarios/ runs at a small size against the builtin mock, first correct (the
# baseline, which must pass: the scenarios that fail on purpose run with the setting their header
# names as the passing one), then once per way of failing that touches what the scenario does:
# every login, API call, refresh or WebSocket handshake answered 500
# (`--set 'mock.faults=["error:OP=100%"]'`), every socket closed at once with 1013
# (`capacity:ws=0`), the scenario's own "break it" flaw, and for outage.yaml an outage that outlasts
# the run. Then servers that fail only in part, which a rate over the whole run dilutes: a fifth of
# the logins answered 500 (storm, soak, idle), 30 % of the WebSocket handshakes (kickoff), 3 % of
# the API calls beside the outage (outage), and a token endpoint whose rotation forks a refresh
# family when four refreshes race (scope-403 with a `refresh_race` phase, `racy-rotation`; the
# same race against the correct mock is a baseline). Every such run must exit 1.
#
# Every other endpoint the clients call fails too, where a scenario calls it: the logout (tabs),
# the admin logout (force-logout, notice), logout everywhere (devices), the SSE stream request
# (kickoff-sse) and the push registration (kickoff-push), every one answered 500 and a share of
# them (`error:logout=30%`, ...). So does a server whose logouts reach no channel
# (`silent-logout`): force-logout and devices on their sockets, notice on each channel —
# `notice-sse` and `notice-push` are notice.yaml with `--set client.websocket=false --set
# client.channel=sse` (`push`), each with its baseline. No shipped scenario reads a CSRF page
# (`cookie-session` uses the mock-session preset, which has none), so `error:csrf_page` has no
# cell: tests/engine/cookie_session.rs proves it.
#
#   integration/broken-servers.sh [--clients N] [--jobs J] [--only REGEX]
#     defaults: 20 clients, 3 at a time, every cell; --only runs the cells (`scenario|breakage`)
#     that match the extended regular expression, e.g. --only 'silent-logout|notice-'
#
# Prints one line per run and a verdict; exit 0 when every baseline passed and every broken run
# failed, 1 otherwise. About 9 minutes with the release build on 2 cores for the first 83 runs
# (it builds it when missing); the 22 cells of the other endpoints and silent-logout came later.
# Not part of .ci/run (too long); the findings it led to are tests in tests/engine/channels.rs,
# tests/engine/failures.rs and tests/engine/cookie_session.rs.
# Environment: AUTHBENCH (default target/release/authbench), BROKEN_OUT (default
# reports/broken-servers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
AUTHBENCH="${AUTHBENCH:-target/release/authbench}"
OUT="${BROKEN_OUT:-reports/broken-servers}"
CLIENTS=20
JOBS=3
ONLY=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clients) CLIENTS="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    *) echo "usage: $0 [--clients N] [--jobs J] [--only REGEX]" >&2; exit 2 ;;
  esac
done
[[ -x "$AUTHBENCH" ]] || timeout 1200 cargo build --release -p authbench --bin authbench

# scenario | how it breaks (`-`: the baseline; `fault:X`, `flaw:X`, `long-outage`)
CELLS="
storm|- storm|fault:error:login=100% storm|fault:error:api=100% storm|fault:error:refresh=100%
storm|flaw:reject-all-refresh storm|flaw:one-shot-rotation
cookie-session|- cookie-session|fault:error:login=100% cookie-session|fault:error:api=100%
devices|- devices|fault:error:login=100% devices|fault:error:api=100% devices|fault:error:refresh=100%
devices|fault:error:ws=100% devices|flaw:logout-everywhere-partial
force-logout|- force-logout|fault:error:login=100% force-logout|fault:error:ws=100%
force-logout|fault:capacity:ws=0 force-logout|flaw:wrong-close-code
idle|- idle|fault:error:login=100% idle|fault:error:api=100% idle|fault:error:refresh=100% idle|flaw:idle-never idle|flaw:idle-not-extended
jitter|- jitter|fault:error:login=100% jitter|fault:error:api=100% jitter|fault:error:refresh=100%
kickoff-push|- kickoff-push|fault:error:login=100% kickoff-push|flaw:no-kick
kickoff-sse|- kickoff-sse|fault:error:login=100% kickoff-sse|flaw:no-kick
kickoff|- kickoff|fault:error:login=100% kickoff|fault:error:ws=100% kickoff|fault:capacity:ws=0
kickoff|flaw:no-kick kickoff|flaw:wrong-close-code
notice|- notice|fault:error:login=100% notice|fault:error:api=100% notice|fault:error:refresh=100%
notice|fault:error:ws=100% notice|fault:capacity:ws=0
outage|- outage|fault:error:login=100% outage|fault:error:api=100% outage|fault:error:refresh=100%
outage|fault:error:ws=100% outage|long-outage
rotation-race|- rotation-race|fault:error:login=100% rotation-race|fault:error:api=100%
rotation-race|fault:error:refresh=100% rotation-race|flaw:reject-all-refresh rotation-race|flaw:one-shot-rotation
scope-403|- scope-403|fault:error:login=100% scope-403|fault:error:api=100% scope-403|flaw:scope-401
scope-403|race scope-403|race+flaw:racy-rotation
soak|- soak|fault:error:login=100% soak|fault:error:api=100% soak|fault:error:refresh=100%
tabs|- tabs|fault:error:login=100% tabs|fault:error:api=100% tabs|fault:error:refresh=100%
ws-expiry|- ws-expiry|fault:error:login=100% ws-expiry|fault:error:refresh=100% ws-expiry|fault:error:ws=100%
ws-expiry|fault:capacity:ws=0
storm|fault:error:login=20% soak|fault:error:login=20% idle|fault:error:login=20%
kickoff|fault:error:ws=30% outage|fault:error:api=3%
tabs|fault:error:logout=100% tabs|fault:error:logout=30%
force-logout|fault:error:force_logout=100% force-logout|fault:error:force_logout=30%
notice|fault:error:force_logout=100% notice|fault:error:force_logout=30%
devices|fault:error:logout_everywhere=100% devices|fault:error:logout_everywhere=30%
kickoff-sse|fault:error:sse=100% kickoff-sse|fault:error:sse=30% kickoff-sse|fault:capacity:sse=0
kickoff-push|fault:error:push=100% kickoff-push|fault:error:push=30%
force-logout|flaw:silent-logout devices|flaw:silent-logout notice|flaw:silent-logout
notice-sse|- notice-sse|fault:error:sse=100% notice-sse|flaw:silent-logout
notice-push|- notice-push|fault:error:push=100% notice-push|flaw:silent-logout
jitter|flaw:access-dies-early storm|flaw:accept-expired storm|flaw:accept-any-token
"

# One run: prints `scenario breakage exit seconds verdict`.
cell() {
  local scenario="${1%%|*}" breakage="${1#*|}" args=(--clients "$CLIENTS" --quiet) rc=0
  local file="$scenario"
  case "$scenario" in
    notice-sse|notice-push)   # notice.yaml over another channel than the WebSocket
      file=notice
      args+=(--set client.websocket=false --set "client.channel=${scenario#notice-}") ;;
  esac
  case "$scenario" in
    rotation-race) args+=(--set client.strategy=single-flight) ;;
    scope-403) args+=(--set client.logout_on_403=false) ;;
    tabs) args+=(--set client.tab_sync=lock) ;;
    soak) args+=(--duration 35s) ;;   # its 30 s tokens need one refresh
  esac
  case "$breakage" in
    race|race+*) args+=(--set 'plan.1={refresh_race: {parallel: 4}}') ;;
  esac
  case "${breakage#race+}" in
    fault:*) args+=(--set "mock.faults=[\"${breakage#fault:}\"]") ;;
    flaw:*) args+=(--set "mock.flaws=[${breakage#*flaw:}]") ;;
    long-outage) args+=(--set plan.2.outage.duration=30s) ;;
  esac
  local out="$OUT/$scenario.${breakage//[:=%+]/_}" start=$SECONDS
  rm -rf "$out"
  timeout 400 "$AUTHBENCH" run "scenarios/$file.yaml" --out "$out" "${args[@]}" \
    >"$out.log" 2>&1 || rc=$?
  local verdict
  if [[ "$breakage" == "-" || "$breakage" == "race" ]]; then
    [[ $rc -eq 0 ]] && verdict=ok || verdict="BASELINE FAILED"
  else
    [[ $rc -eq 1 ]] && verdict=ok || verdict="BROKEN SERVER NOT FAILED"
  fi
  printf '%-15s %-36s exit %-3s %4ss  %s\n' "$scenario" "$breakage" "$rc" $((SECONDS - start)) "$verdict"
}
export -f cell
export AUTHBENCH OUT CLIENTS

mkdir -p "$OUT"
# Each run in a network namespace of its own when unshare can make one (only loopback in it).
runner=(bash -c 'cell "$0"')
if unshare -rn true 2>/dev/null; then
  runner=(unshare -rn bash -c 'ip link set lo up 2>/dev/null; ulimit -n 20000 2>/dev/null; cell "$0"')
fi
tr ' ' '\n' <<<"$CELLS" | grep -v '^$' | { grep -E -- "${ONLY:-.}" || true; } \
  | xargs -P "$JOBS" -I{} "${runner[@]}" {} | tee "$OUT/results.txt"
bad=$(grep -c -v ' ok$' "$OUT/results.txt" || true)
total=$(wc -l <"$OUT/results.txt")
[[ "$total" -gt 0 ]] || { echo "no cell matches --only '$ONLY'" >&2; exit 2; }
if [[ "$bad" -eq 0 ]]; then
  echo "PASS: $total runs: every baseline passed and every broken server failed its run"
else
  echo "FAIL: $bad of $total runs went the wrong way (see $OUT/results.txt and the .log beside each)"
  exit 1
fi
