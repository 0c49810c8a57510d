#!/usr/bin/env bash
# bench/run-all.sh — every performance figure of DESIGN §8 (issue 7) in one bounded run.
#
#   bench/run-all.sh            # build, install what is missing, measure, write bench/results/latest.md
#
# What it measures, each printed with its target and PASS/MISS:
#   1. GET /api/me req/s: authbench (scenarios/bench/api-me.yaml) vs oha -c 64 vs wrk -c64, against
#      the same separately started release mock; 3 interleaved rounds of 10 s, medians.
#   2. Scale: 100 000 logged-in clients (tokens + proactive timers) in one process, peak RSS;
#      10 000 users × 4 tabs (client.tabs) in one process, what one more tab costs against a client;
#      15 000 WebSockets held by one process against a mock in another, every one kicked;
#      and the ceiling of one process (19 500 sockets against the 20 000 open-file limit).
#   3. wake_skew p99 for 10 000 clients woken at one instant (scenarios/bench/wake.yaml).
#   4. The mock: refresh (rotation) and login req/s vs its own /healthz, hs256 and es256
#      (benches/mock_throughput.rs, a lean closed-loop generator, endpoints interleaved).
#   5. `authbench check` against the builtin mock: the whole catalog, wall time.
#   6. Recording one sample into the metrics (cargo bench --bench record, divan median).
#   7. The 5 000 × 4 storm (scenarios/storm.yaml, builtin mock; 5 runs, medians) seen from both ends: the mock's
#      arrival spread after the sync point (server_arrivals.spread_p99_us = p99 - first arrival,
#      over each session's first request) and the clients' send_skew p99, which must lie within
#      20% of the server's arrival p99; and one more run seen from the wire too (tcpdump on lo,
#      bench/wire_spread.py), against which the mock's and the clients' spreads must lie within 20%. Then the same storm against the mock in its own process:
#      generator CPU per request (storm mix) and peak memory per client, each run paired with a run
#      of the same clients without the storm (the CPU per delivered call of both compared).
#   8. A million clients in one process against the mock in another (--users 1000000): logged in
#      with proactive timers (peak RSS), and through sync_expiry and the storm (wake_skew,
#      send_skew against the CPU floor, every client's first call delivered), and the floor under
#      that wake (benches/wake_floor.rs: a million visits of one clock read and one write each).
#   9. The same storm over https (`--set mock.tls=true`: the in-process mock serves TLS) vs plain
#      http: CPU time (user + sys) of the authbench process per request, and the tls_handshake count.
#
# Traffic stays on loopback: after the build and installs (which need the network) the script
# re-runs itself inside a fresh network namespace that has only `lo` (`unshare -n`), like the peer
# baselines of research/peer-baselines.md. Needs root (unshare, apt-get). The measured part takes
# about 24 minutes, 12 of them row 8b's million-client storm (plus up to 1 minute waiting for the
# load average to settle after the build; 2026-12-02: 16:30–16:49 UTC); a cold release build adds
# about 6 more. Raw output goes to bench/results/raw/ (not committed).
#
# Environment: AB_BENCH_MT_BIN=path overrides the mock_throughput binary (normally built by
# `cargo bench --no-run --bench mock_throughput`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS="$ROOT/bench/.tools"
OHA="$TOOLS/bin/oha"
RESULTS="$ROOT/bench/results"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

if [[ -z "${AB_BENCH_INSIDE:-}" ]]; then
    # ---- outside the namespace: tools and builds ------------------------------------------------
    command -v unshare >/dev/null || { echo "run-all.sh: needs unshare (util-linux)" >&2; exit 2; }
    command -v jq >/dev/null && command -v curl >/dev/null || {
        log "installing jq and curl"; apt-get install -y jq curl >/dev/null; }
    [[ -x /usr/bin/time ]] || { log "installing time"; apt-get install -y time >/dev/null; }
    command -v wrk >/dev/null || { log "installing wrk (Debian package)"; apt-get install -y wrk >/dev/null; }
    command -v tcpdump >/dev/null || { log "installing tcpdump"; apt-get install -y tcpdump >/dev/null; }
    if ! PYTHONPATH="$TOOLS/py" python3 -c 'import dpkt' 2>/dev/null; then
        log "installing dpkt into bench/.tools/py (pip install --target)"
        python3 -m pip install --quiet --target "$TOOLS/py" dpkt
    fi
    if [[ ! -x "$OHA" ]]; then
        log "installing oha into bench/.tools (cargo install oha --locked)"
        cargo install oha --locked --root "$TOOLS"
    fi
    log "building (release): authbench, authbench-mock, benches"
    build_start=$(date +%s)
    cargo build --release --workspace --bins
    cargo bench --no-run --bench record --bench wake_floor
    MT_BIN=""
    if grep -q 'name = "mock_throughput"' Cargo.toml; then
        MT_BIN=$(cargo bench --no-run --bench mock_throughput --message-format=json 2>/dev/null |
            jq -r 'select(.reason == "compiler-artifact" and .target.name == "mock_throughput") | .executable' |
            tail -1)
    fi
    export AB_BENCH_MT_BIN="${AB_BENCH_MT_BIN:-$MT_BIN}"
    export AB_BENCH_BUILD_S=$(( $(date +%s) - build_start ))
    export AB_BENCH_INSIDE=1
    exec unshare -n "${BASH_SOURCE[0]}" "$@"
fi

# ---- inside the namespace: only 127.0.0.1 is reachable ------------------------------------------
ip link set lo up
ulimit -n 20000 2>/dev/null || true
STAMP=$(date -u +%Y%m%d-%H%M%S)
RAW="$RESULTS/raw/$STAMP"
mkdir -p "$RAW"
AB="$ROOT/target/release/authbench"
MOCK="$ROOT/target/release/authbench-mock"
MOCKS=()
trap 'for p in "${MOCKS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

ROWS=()      # "figure|value|target|PASS/MISS"
COMMANDS=()  # exact commands, for the results file
NOTES=()

row() { ROWS+=("$1|$2|$3|$4"); printf '  %-58s %-22s %-16s %s\n' "$1" "$2" "$3" "$4"; }
cmd() { COMMANDS+=("$*"); }
load1() { cut -d' ' -f1 /proc/loadavg; }
pass_if() { if awk "BEGIN{exit !($1)}"; then echo PASS; else echo MISS; fi; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
jqf() { jq "$@" 2>/dev/null || echo 0; }   # a missing report counts as 0, the row then shows MISS
rss_mib() { awk '/Maximum resident set size/ {printf "%.0f", $NF/1024}' "$1"; }
rss_kb() { awk '/Maximum resident set size/ {print $NF}' "$1"; }
cpu_s() { awk '/User time/ {u=$NF} /System time/ {s=$NF} END {printf "%.2f", u+s}' "$1"; }
# CPU µs per request of one /usr/bin/time -v file (time file, requests): "total user sys".
cpu_us_per_req() { awk -v n="$2" '/User time/ {u=$NF} /System time/ {s=$NF} END {if (n < 1) n = 1; printf "%.1f %.1f %.1f", (u + s) * 1e6 / n, u * 1e6 / n, s * 1e6 / n}' "$1"; }
# Index of the first of the remaining arguments equal to the first one (which run was the median).
index_of() { local want=$1 i=0; shift; for v in "$@"; do [[ "$v" == "$want" ]] && { echo "$i"; return; }; i=$((i + 1)); done; echo 0; }

start_mock() { # port, extra args...; echoes the pid
    local port=$1; shift
    "$MOCK" --port "$port" "$@" >"$RAW/mock-$port.log" 2>&1 &
    local pid=$!
    MOCKS+=("$pid")
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && { echo "$pid"; return; }
        sleep 0.05
    done
    echo "mock on port $port did not start" >&2; exit 3
}
# The mock was started in a `$(…)` subshell, so it is not this shell's child and `wait` cannot
# wait for it: poll until it is gone (a mock holding a million sessions takes a while to shut
# down, and the next row reuses its port; 2026-12-04 row 8b found 18084 still bound), then kill it.
stop_mock() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
}

# The build just loaded the machine: give the 1-minute load average up to a minute to settle.
for _ in $(seq 12); do
    awk "BEGIN{exit !($(load1) > 1.0)}" || break
    sleep 5
done
LOAD_START=$(load1)
CORES=$(nproc)
CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
log "$(date -u '+%Y-%m-%d %H:%M UTC') · $CORES cores ($CPU) · load $LOAD_START · raw output in ${RAW#$ROOT/}"
if awk "BEGIN{exit !($LOAD_START > 1.5)}"; then
    echo "  note: 1-minute load average is $LOAD_START (> 1.5): other work shares the cores; figures are lower than on a quiet machine" >&2
    NOTES+=("Load average at the start was $LOAD_START: other processes shared the cores.")
fi

# ---- 1. request generation -----------------------------------------------------------------------
log "1. GET /api/me: authbench vs oha vs wrk (64 connections, 3 rounds of 10 s each)"
M1=$(start_mock 18080 --signing hs256 --access-ttl 1h)
cmd "$MOCK --port 18080 --signing hs256 --access-ttl 1h &"
TOKEN=$(curl -sf -d 'grant_type=password&username=user99999&password=pw-99999' \
    http://127.0.0.1:18080/oauth/token | jq -r .access_token)
declare -a R_AB R_OHA R_WRK
for round in 1 2 3; do
    sleep 1
    out="$RAW/api-me-authbench-$round"
    /usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/api-me.yaml \
        --target scenarios/bench/target.yaml --out "$out" --quiet >/dev/null 2>&1 || true
    R_AB+=("$(jqf '(.counters["status.api.200"] // 0) / (.run.duration_s - ((.phases[] | select(.name == "traffic") | .offset_ms) / 1000))' "$out/report.json")")
    sleep 1
    /usr/bin/time -v -o "$RAW/api-me-oha-$round.time" "$OHA" -z 10s -c 64 --no-tui --output-format json \
        -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18080/api/me >"$RAW/api-me-oha-$round.json" 2>/dev/null || true
    R_OHA+=("$(jqf '.summary.requestsPerSec // 0' "$RAW/api-me-oha-$round.json")")
    sleep 1
    /usr/bin/time -v -o "$RAW/api-me-wrk-$round.time" wrk -t2 -c64 -d10s \
        -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18080/api/me >"$RAW/api-me-wrk-$round.txt" 2>&1 || true
    R_WRK+=("$(awk '/Requests\/sec/ {print $2}' "$RAW/api-me-wrk-$round.txt")")
    printf '  round %d: authbench %.0f · oha %.0f · wrk %.0f req/s\n' "$round" "${R_AB[-1]}" "${R_OHA[-1]}" "${R_WRK[-1]:-0}" >&2
done
cmd "$AB run scenarios/bench/api-me.yaml --target scenarios/bench/target.yaml   # 64 clients × 1 connection, closed model, think 0, 10 s"
cmd "$OHA -z 10s -c 64 --no-tui --output-format json -H 'Authorization: Bearer <AT>' http://127.0.0.1:18080/api/me"
cmd "wrk -t2 -c64 -d10s -H 'Authorization: Bearer <AT>' http://127.0.0.1:18080/api/me"
AB_RPS=$(median "${R_AB[@]}"); OHA_RPS=$(median "${R_OHA[@]}"); WRK_RPS=$(median "${R_WRK[@]}")
RATIO=$(awk "BEGIN{printf \"%.2f\", $AB_RPS / ($OHA_RPS > 0 ? $OHA_RPS : 1)}")
AB_N=$(jqf '.derived.requests // 0' "$RAW/api-me-authbench-2/report.json")
OHA_N=$(jqf '.statusCodeDistribution["200"] // 0' "$RAW/api-me-oha-2.json")
AB_CPU_US=$(awk "BEGIN{printf \"%.1f\", $(cpu_s "$RAW/api-me-authbench-2.time") * 1e6 / ($AB_N > 0 ? $AB_N : 1)}")
OHA_CPU_US=$(awk "BEGIN{printf \"%.1f\", $(cpu_s "$RAW/api-me-oha-2.time") * 1e6 / ($OHA_N > 0 ? $OHA_N : 1)}")
row "1. authbench GET /api/me (median of 3)" "$(printf '%.0f req/s' "$AB_RPS")" "" ""
row "   oha -c 64 (median of 3)" "$(printf '%.0f req/s' "$OHA_RPS")" "" ""
row "   wrk -t2 -c64 (median of 3; 2nd reference)" "$(printf '%.0f req/s' "$WRK_RPS")" "" ""
row "   ratio authbench / oha" "$RATIO" ">= 0.9 (goal 1.0)" "$(pass_if "$RATIO >= 0.9")"
RATIO_WRK=$(awk "BEGIN{printf \"%.2f\", $AB_RPS / (${WRK_RPS:-0} > 0 ? $WRK_RPS : 1)}")
row "   ratio authbench / wrk -c64 (same rounds, interleaved)" "$RATIO_WRK" ">= 0.95" "$(pass_if "$RATIO_WRK >= 0.95")"
row "   client CPU per request: authbench / oha" "$AB_CPU_US / $OHA_CPU_US µs" "" ""
row "   peak RSS: authbench / oha" "$(rss_mib "$RAW/api-me-authbench-2.time") / $(rss_mib "$RAW/api-me-oha-2.time") MiB" "" ""

# ---- 2. scale ------------------------------------------------------------------------------------
log "2a. 100 000 logged-in clients in one process (pool of 1 000 connections)"
out="$RAW/scale"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/scale.yaml \
    --target scenarios/bench/target.yaml --out "$out" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/bench/scale.yaml --target scenarios/bench/target.yaml   # 100 000 clients, proactive timers, pool 1 000"
stop_mock "$M1"
LOGINS=$(jqf '.counters.logins // 0' "$out/report.json")
SCALE_RSS=$(rss_mib "$out.time")
SCALE_ERR=$(jqf '.derived.errors // 0' "$out/report.json")
row "2. 100 000 clients logged in (tokens + timers)" "$LOGINS logged in, $SCALE_ERR errors" "100000, 0" "$(pass_if "$LOGINS == 100000 && $SCALE_ERR == 0")"
row "   peak RSS of that process" "$SCALE_RSS MiB" "< 1024 MiB" "$(pass_if "$SCALE_RSS < 1024")"
row "   state per client (peak RSS / clients)" "$(awk "BEGIN{printf \"%.2f\", $SCALE_RSS * 1048576 / 100000 / 1024}") KiB" "" ""

log "2a'. 10 000 users × 4 tabs in one process (a token store per user), and the same users with 1 tab"
M1=$(start_mock 18080 --signing hs256 --access-ttl 1h)
out="$RAW/tabs"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/tabs.yaml \
    --target scenarios/bench/target.yaml --out "$out" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/bench/tabs.yaml --target scenarios/bench/target.yaml   # 10 000 users × 4 tabs (lock), logged in, proactive timers, pool 1 000"
/usr/bin/time -v -o "$out-1.time" "$AB" run scenarios/bench/tabs.yaml \
    --target scenarios/bench/target.yaml --set client.tabs=1 --set client.tab_sync=none \
    --set 'expect=[logins == 10000]' --out "$out-1" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/bench/tabs.yaml --target scenarios/bench/target.yaml --set client.tabs=1 --set client.tab_sync=none --set 'expect=[logins == 10000]'   # the same 10 000 users, 1 tab"
stop_mock "$M1"
TABS_RSS=$(rss_mib "$out.time")
TABS1_RSS=$(rss_mib "$out-1.time")
TABS_IN=$(jqf '.counters.clients_logged_in // 0' "$out/report.json")
TABS_LOGINS=$(jqf '.counters.logins // 0' "$out/report.json")
TABS_ERR=$(jqf '.derived.errors // 0' "$out/report.json")
# Target: one more tab costs no more than a client of the 100 000-client row (peak RSS / clients).
PER_CLIENT=$(awk "BEGIN{printf \"%.2f\", $SCALE_RSS * 1048576 / 100000 / 1024}")
PER_TAB=$(awk "BEGIN{printf \"%.2f\", $TABS_RSS * 1048576 / 40000 / 1024}")
EXTRA_TAB=$(awk "BEGIN{printf \"%.2f\", ($TABS_RSS - $TABS1_RSS) * 1048576 / 30000 / 1024}")
row "2. 10 000 users × 4 tabs logged in (tabs; logins)" "$TABS_IN; $TABS_LOGINS; $TABS_ERR errors" "40000; 10000; 0" "$(pass_if "$TABS_IN == 40000 && $TABS_LOGINS == 10000 && $TABS_ERR == 0")"
row "   peak RSS 4 tabs / 1 tab; per tab (RSS / tabs)" "$TABS_RSS / $TABS1_RSS MiB; $PER_TAB KiB" "" ""
row "   one more tab ((RSS 4 tabs − 1 tab) / 30 000)" "$EXTRA_TAB KiB" "<= $PER_CLIENT KiB" "$(pass_if "$EXTRA_TAB <= $PER_CLIENT")"

log "2b. 15 000 WebSockets in one process, mock in another; every one kicked by a relogin"
M2=$(start_mock 18081 --signing hs256 --access-ttl 5m --single-session)
cmd "$MOCK --port 18081 --signing hs256 --access-ttl 5m --single-session &"
out="$RAW/ws"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/ws.yaml \
    --target scenarios/bench/target-ws.yaml --out "$out" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/bench/ws.yaml --target scenarios/bench/target-ws.yaml   # 15 000 sockets, relogin"
WS_OPEN=$(jqf '.timeline.gauges.open_sockets // [0] | max' "$out/report.json")
WS_KICKED=$(jqf '.counters["ws_close.4409"] // 0' "$out/report.json")
WS_MISSED=$(jqf '.counters.missed_kicks // 0' "$out/report.json")
WS_P99=$(jqf '.histograms.kick_latency.p99 // 0 | . / 1000' "$out/report.json")
row "   WebSockets open at once (one process)" "$WS_OPEN" ">= 15000" "$(pass_if "$WS_OPEN >= 15000")"
row "   kicked (4409) / missed kicks" "$WS_KICKED / $WS_MISSED" "15000 / 0" "$(pass_if "$WS_KICKED == 15000 && $WS_MISSED == 0")"
row "   kick_latency p99; client peak RSS" "$(printf '%.1f ms; %s MiB' "$WS_P99" "$(rss_mib "$out.time")")" "" ""
stop_mock "$M2"

log "2c. how far one process goes: 19 500 sockets held (open-file limit 20 000 per process)"
M2=$(start_mock 18081 --signing hs256 --access-ttl 5m --single-session)
out="$RAW/ws-ceiling"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/ws.yaml --target scenarios/bench/target-ws.yaml \
    --clients 19500 --set 'plan=[{login: {ramp: 6s}}, {wait: {duration: 2s}}]' --set 'expect=[errors == 0]' \
    --out "$out" --quiet >/dev/null 2>&1 || true
cmd "$AB run scenarios/bench/ws.yaml --target scenarios/bench/target-ws.yaml --clients 19500 --set 'plan=[{login: {ramp: 6s}}, {wait: {duration: 2s}}]' --set 'expect=[errors == 0]'"
CEIL_OPEN=$(jqf '.timeline.gauges.open_sockets // [0] | max' "$out/report.json")
CEIL_ERR=$(jqf '.derived.errors // 0' "$out/report.json")
row "   ceiling: sockets held by one process" "$CEIL_OPEN ($CEIL_ERR errors, $(rss_mib "$out.time") MiB)" "(report)" ""
stop_mock "$M2"

# ---- 3. synchronized wake ------------------------------------------------------------------------
log "3. wake_skew for 10 000 clients (builtin mock), 3 runs"
declare -a WAKES
WAKE_N_OK=1
for run in 1 2 3; do
    out="$RAW/wake-$run"
    "$AB" run scenarios/bench/wake.yaml --out "$out" --quiet >/dev/null 2>&1 || true
    WAKES+=("$(jqf '.histograms.wake_skew.p99 // 1e9 | . / 1000' "$out/report.json")")
    [[ "$(jqf '.histograms.wake_skew.count // 0' "$out/report.json")" == 10000 ]] || WAKE_N_OK=0
    printf '  run %d: wake_skew p99 %.2f ms\n' "$run" "${WAKES[-1]}" >&2
done
cmd "$AB run scenarios/bench/wake.yaml   # 10 000 clients, sync_expiry, builtin mock; 3 runs"
WAKE_P99=$(median "${WAKES[@]}")
row "3. wake_skew p99, 10 000 clients (median of 3 runs: $(printf '%.2f ' "${WAKES[@]}")ms)" "$(printf '%.2f ms' "$WAKE_P99")" "< 2 ms" "$(pass_if "$WAKE_P99 < 2 && $WAKE_N_OK == 1")"

# ---- 4. the mock ---------------------------------------------------------------------------------
log "4. mock: refresh and login vs its own /healthz (64 connections, 5 s each, 5 interleaved rounds)"
if [[ -n "${AB_BENCH_MT_BIN:-}" && -x "${AB_BENCH_MT_BIN}" ]]; then
    for alg in hs256 es256; do
        M=$(start_mock 18082 --signing "$alg" --access-ttl 1h)
        "$AB_BENCH_MT_BIN" --url http://127.0.0.1:18082 --connections 64 --duration 5s --rounds 5 \
            --server-pid "$M" >"$RAW/mock-$alg.txt" 2>&1 || true
        stop_mock "$M"
        sed 's/^/  /' "$RAW/mock-$alg.txt" >&2
        H=$(awk '$1 == "healthz" {print $2}' "$RAW/mock-$alg.txt")
        for ep in refresh login; do
            V=$(awk -v e="$ep" '$1 == e {print $2}' "$RAW/mock-$alg.txt")
            SRV_US=$(awk -v e="$ep" '$1 == e {for (i=1;i<=NF;i++) if ($i == "CPU") print $(i+1)}' "$RAW/mock-$alg.txt")
            HCPU=$(awk '$1 == "healthz" {for (i=1;i<=NF;i++) if ($i == "CPU") print $(i+1)}' "$RAW/mock-$alg.txt")
            R=$(awk "BEGIN{printf \"%.2f\", ${V:-0} / (${H:-0} > 0 ? $H : 1)}")
            row "4. $alg $ep / healthz (server µs/req: $SRV_US / $HCPU)" "$R (${V:-?} / ${H:-?} req/s)" ">= 0.5" "$(pass_if "$R >= 0.5")"
        done
    done
    cmd "$MOCK --port 18082 --signing hs256|es256 --access-ttl 1h &"
    cmd "cargo bench --bench mock_throughput -- --url http://127.0.0.1:18082 --connections 64 --duration 5s --rounds 5 --server-pid <mock pid>"
else
    row "4. mock refresh/login vs healthz" "not run" ">= 0.5" "MISS"
    NOTES+=("benches/mock_throughput.rs needs \`[[bench]] name = \"mock_throughput\" harness = false\` in Cargo.toml.")
fi

# ---- 5. conformance catalog ----------------------------------------------------------------------
log "5. authbench check against the builtin mock"
t0=$(date +%s.%N)
"$AB" check --out "$RAW/check" >"$RAW/check.txt" 2>&1 || true
CHECK_S=$(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}")
cmd "$AB check   # the whole catalog against the builtin mock"
CHECK_LINE=$(grep -E '^[0-9]+ checks in' "$RAW/check.txt" | head -1 || true)
row "5. authbench check, whole catalog (${CHECK_LINE%%:*})" "$CHECK_S s" "< 10 s" "$(pass_if "$CHECK_S < 10")"

# ---- 6. per-sample overhead ----------------------------------------------------------------------
log "6. recording one sample (cargo bench --bench record, divan)"
cargo bench --offline --bench record >"$RAW/record.txt" 2>&1 || true
cmd "cargo bench --bench record"
to_ns() { awk '{v=$1; u=$2; if (u=="ps") v/=1000; else if (u=="µs"||u=="us") v*=1000; else if (u=="ms") v*=1e6; printf "%.1f", v}'; }
for b in record count_existing series; do
    # columns: name fastest │ slowest │ median │ mean ...; the median is the 3rd value
    MED=$(awk -v b="$b" '$0 ~ ("─ " b " ") {n=split($0, f, "│"); print f[3]}' "$RAW/record.txt" | xargs | to_ns)
    if [[ "$b" == record ]]; then
        row "6. one latency sample into the recorder (median)" "${MED:-?} ns" "< 100 ns" "$(pass_if "${MED:-1e9} < 100")"
    else
        row "   $b (median)" "${MED:-?} ns" "" ""
    fi
done

# ---- 7. the storm seen from both ends ------------------------------------------------------------
log "7. 5 000 × 4 storm (builtin mock): server-side arrival spread and client-side send_skew, 5 runs"
# One run's spread swings by ±30 % on this shared 2-core box (about one run in five lands ~50 %
# above the others), so the row is the run with the median spread of five (its send_skew and
# arrival p99 printed with it: the 20 % check compares one run's two ends).
SPREADS=(); SENDS=(); ARRS=(); NS=()
for i in 1 2 3 4 5; do
    out="$RAW/storm-$i"
    "$AB" run scenarios/storm.yaml --out "$out" --quiet >/dev/null 2>&1 || true
    SPREADS+=("$(jqf '.server_arrivals.spread_p99_us // 1e9 | . / 1000' "$out/report.json")")
    ARRS+=("$(jqf '.server_arrivals.p99_us // 1e9 | . / 1000' "$out/report.json")")
    NS+=("$(jqf '.server_arrivals.count // 0' "$out/report.json")")
    SENDS+=("$(jqf '.histograms.send_skew.p99 // 1e9 | . / 1000' "$out/report.json")")
done
cmd "$AB run scenarios/storm.yaml   # 5 000 clients × concurrency 4, sync_expiry, builtin mock; 5 runs"
SPREAD=$(median "${SPREADS[@]}"); MID=$(index_of "$SPREAD" "${SPREADS[@]}")
SEND_P99=${SENDS[$MID]}; ARR_P99=${ARRS[$MID]}; ARR_N=${NS[$MID]}
row "7. storm 5 000 × 4: server arrival spread p99, median of 5 runs ($(printf '%.0f ' "${SPREADS[@]}")ms; $ARR_N first requests)" \
    "$(printf '%.1f ms' "$SPREAD")" "<= 250 ms" "$(pass_if "$SPREAD <= 250 && $ARR_N >= 5000")"
row "   send_skew p99 (client) vs server arrival p99, same run" "$(printf '%.1f / %.1f ms' "$SEND_P99" "$ARR_P99")" "<= 250 ms, within 20%" \
    "$(pass_if "$SEND_P99 <= 250 && $SEND_P99 >= 0.8 * $ARR_P99 && $SEND_P99 <= 1.2 * $ARR_P99")"

# The same storm once more under a packet capture: the first calls' spread as the wire saw it,
# an observer that is neither authbench nor the mock (bench/wire_spread.py: each user's first
# `GET` by the JWT's sub), against the mock's spread and the clients' send_skew p99 − min of that
# run. Not one of the five above: the capture shares the two cores.
log "7'. the same storm under tcpdump: the first calls' spread on the wire against the mock's and the clients'"
out="$RAW/storm-wire"
tcpdump -i lo -s 600 -B 65536 -w "$out.pcap" 'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420' \
    >"$out.tcpdump.log" 2>&1 &
TCPDUMP=$!
for _ in $(seq 50); do grep -q listening "$out.tcpdump.log" 2>/dev/null && break; sleep 0.1; done
"$AB" run scenarios/storm.yaml --out "$out" --quiet >/dev/null 2>&1 || true
sleep 0.5; kill -INT "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true
WIRE=$(PYTHONPATH="$TOOLS/py" python3 bench/wire_spread.py "$out.pcap" 2>"$out.wire.err" || echo '{}')
rm -f "$out.pcap"
WIRE_SPREAD=$(echo "$WIRE" | jqf '.spread_p99_ms // 1e9')
WIRE_USERS=$(echo "$WIRE" | jqf '.users // 0')
SRV_SPREAD=$(jqf '.server_arrivals.spread_p99_us // 1e9 | . / 1000' "$out/report.json")
CLI_SPREAD=$(jqf '(.histograms.send_skew.p99 - .histograms.send_skew.min) // 1e9 | . / 1000' "$out/report.json")
cmd "tcpdump -i lo -s 600 -w storm.pcap 'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420' & $AB run scenarios/storm.yaml; python3 bench/wire_spread.py storm.pcap   # one more run, captured"
row "   first calls' spread p99 on the wire (tcpdump, $WIRE_USERS users) / mock / clients (send_skew p99 − min), one run" \
    "$(printf '%.1f / %.1f / %.1f ms' "$WIRE_SPREAD" "$SRV_SPREAD" "$CLI_SPREAD")" "mock and clients within 20% of the wire" \
    "$(pass_if "$WIRE_USERS >= 5000 && $SRV_SPREAD >= 0.8 * $WIRE_SPREAD && $SRV_SPREAD <= 1.2 * $WIRE_SPREAD && $CLI_SPREAD >= 0.8 * $WIRE_SPREAD && $CLI_SPREAD <= 1.2 * $WIRE_SPREAD")"

log "7b. the same storm against the mock in its own process: generator CPU per request, memory per client, 3 runs"
# Each storm run is paired with a run of the same clients without the storm (no sync_expiry: the
# tokens have expired by the traffic phase too, but each loop starts at a random point of its first
# think time), so the storm's cost per delivered call is compared with the steady path's for the
# same calls (issue 16 §2: "a storm path as cheap as the steady path").
M7=$(start_mock 18083 --signing hs256 --access-ttl 5s --refresh-ttl 1h)
cmd "$MOCK --port 18083 --signing hs256 --access-ttl 5s --refresh-ttl 1h &"
STEADY_PLAN='plan=[{login: {ramp: 3s}}, {wait: {duration: 5100ms}}, {traffic: {duration: 12s}}]'
CPUS=(); KIBS=(); STORM_RSS_KB=(); REQS=(); SPLITS=(); PER_OK=(); DELIVERED=(); STEADY_CPUS=(); STEADY_OK=(); STEADY_KIBS=()
for i in 1 2 3; do
    out="$RAW/storm-ext-$i"
    /usr/bin/time -v -o "$out.time" "$AB" run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml \
        --out "$out" --quiet >/dev/null 2>&1 || true
    REQ=$(jqf '.derived.requests // 0' "$out/report.json")
    REQS+=("$REQ")
    read -r TOTAL USER SYS <<<"$(cpu_us_per_req "$out.time" "$REQ")"
    CPUS+=("$TOTAL"); SPLITS+=("$USER / $SYS")
    KIBS+=("$(awk "BEGIN{printf \"%.1f\", $(rss_mib "$out.time") * 1024 / 5000}")")
    STORM_RSS_KB+=("$(rss_kb "$out.time")")
    OKN=$(jqf '.counters["status.api.200"] // 0' "$out/report.json"); DELIVERED+=("$OKN")
    PER_OK+=("$(cpu_us_per_req "$out.time" "$OKN" | cut -d' ' -f1)")
    out="$RAW/steady-ext-$i"
    /usr/bin/time -v -o "$out.time" "$AB" run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml \
        --set "$STEADY_PLAN" --out "$out" --quiet >/dev/null 2>&1 || true
    STEADY_CPUS+=("$(cpu_us_per_req "$out.time" "$(jqf '.derived.requests // 0' "$out/report.json")" | cut -d' ' -f1)")
    OKN=$(jqf '.counters["status.api.200"] // 0' "$out/report.json"); DELIVERED+=("$OKN")
    STEADY_OK+=("$(cpu_us_per_req "$out.time" "$OKN" | cut -d' ' -f1)")
    STEADY_KIBS+=("$(awk "BEGIN{printf \"%.1f\", $(rss_mib "$out.time") * 1024 / 5000}")")
done
cmd "/usr/bin/time -v $AB run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml   # 3 runs"
cmd "/usr/bin/time -v $AB run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml --set '$STEADY_PLAN'   # no storm; 3 runs, each after a storm run"
# The process's own part of that peak (its code, runtime and recorder): the same storm with one
# client, so what the other 4 999 clients add is told apart from what any run of this binary holds.
out="$RAW/storm-ext-one"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml \
    --set clients=1 --out "$out" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/storm.yaml --target scenarios/bench/target-storm.yaml --set clients=1   # the process's own part"
ONE_KB=$(rss_kb "$out.time")
stop_mock "$M7"
STORM_REQ=$(median "${REQS[@]}")
STORM_CPU_US=$(median "${CPUS[@]}")
STORM_KIB=$(median "${KIBS[@]}")
# The median run's split into user and kernel time: on loopback the sender's kernel time includes
# delivering to the receiver (the TCP receive path runs in the writer's context), so the kernel
# share is mostly the wire, not authbench's code.
STORM_SPLIT=${SPLITS[$(index_of "$STORM_CPU_US" "${CPUS[@]}")]}
row "   generator CPU per request, storm mix, median of 3 ($(printf '%s ' "${CPUS[@]}")µs; ~$STORM_REQ requests; median run user / sys $STORM_SPLIT µs)" "$STORM_CPU_US µs" "<= 20 µs" "$(pass_if "$STORM_CPU_US <= 20 && $STORM_REQ > 0")"
row "   peak memory per client during the storm (peak RSS / 5 000), median of 3" "$STORM_KIB KiB" "<= 8 KiB" "$(pass_if "$STORM_KIB <= 8")"
ADDED_KIB=$(awk -v all="$(median "${STORM_RSS_KB[@]}")" -v one="${ONE_KB:-0}" 'BEGIN{printf "%.1f", (all - one) / 4999}')
row "   of which each client adds: (peak RSS − peak RSS of the same storm with 1 client, $(awk -v k="${ONE_KB:-0}" 'BEGIN{printf "%.0f", k / 1024}') MiB) / 4 999, median run" "$ADDED_KIB KiB" "(report)" ""
OK_STORM=$(median "${PER_OK[@]}"); OK_STEADY=$(median "${STEADY_OK[@]}")
OK_RATIO=$(awk "BEGIN{printf \"%.2f\", ($OK_STEADY > 0) ? $OK_STORM / $OK_STEADY : 1e9}")
row "   the same clients without the storm: CPU per request; peak memory per client (medians of 3)" "$(median "${STEADY_CPUS[@]}") µs; $(median "${STEADY_KIBS[@]}") KiB" "(report)" ""
row "   CPU per delivered call (200), storm / no storm ($(printf '%s ' "${PER_OK[@]}")/ $(printf '%s ' "${STEADY_OK[@]}")µs)" "$OK_STORM / $OK_STEADY µs (× $OK_RATIO)" "<= 1.2 ×" \
    "$(pass_if "$OK_RATIO <= 1.2 && $(printf '%s\n' "${DELIVERED[@]}" | sort -g | head -1) > 0")"

# ---- 8. a million clients ------------------------------------------------------------------------
proc_cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
log "8a. 1 000 000 logged-in clients with proactive timers, one process (mock in another)"
M8=$(start_mock 18084 --signing hs256 --access-ttl 1h --users 1000000)
cmd "$MOCK --port 18084 --signing hs256 --access-ttl 1h --users 1000000 &"
out="$RAW/million"
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/million.yaml --target scenarios/bench/target-million.yaml \
    --out "$out" --quiet >/dev/null 2>&1 || true
cmd "/usr/bin/time -v $AB run scenarios/bench/million.yaml --target scenarios/bench/target-million.yaml"
stop_mock "$M8"
M_LOGINS=$(jqf '.counters.clients_logged_in // 0' "$out/report.json")
M_RSS=$(rss_mib "$out.time")
row "8. 1 000 000 clients logged in with timers: peak RSS ($M_LOGINS logged in)" "$M_RSS MiB" "<= 1024 MiB" "$(pass_if "$M_RSS <= 1024 && $M_LOGINS == 1000000")"

log "8b. 1 000 000 clients through sync_expiry and the storm"
M8=$(start_mock 18084 --signing hs256 --access-ttl 240s --refresh-ttl 1h --users 1000000)
cmd "$MOCK --port 18084 --signing hs256 --access-ttl 240s --refresh-ttl 1h --users 1000000 &"
out="$RAW/million-storm"
MOCK_CPU0=$(proc_cpu_s "$M8")
/usr/bin/time -v -o "$out.time" "$AB" run scenarios/bench/million-storm.yaml --target scenarios/bench/target-million.yaml \
    --out "$out" --quiet >/dev/null 2>&1 || true
MOCK_CPU=$(awk "BEGIN{print $(proc_cpu_s "$M8") - $MOCK_CPU0}")
cmd "/usr/bin/time -v $AB run scenarios/bench/million-storm.yaml --target scenarios/bench/target-million.yaml"
stop_mock "$M8"
MW_P99=$(jqf '.histograms.wake_skew.p99 // 1e9 | . / 1000' "$out/report.json")
MS_P99=$(jqf '.histograms.send_skew.p99 // 1e9 | . / 1000' "$out/report.json")
M_REC=$(jqf '.histograms.recovery.count // 0' "$out/report.json")
M_NEVER=$(jqf '.counters.never_recovered // -1' "$out/report.json")
M_REQ=$(jqf '.derived.requests // 0' "$out/report.json")
# The CPU floor of the burst: the pool serves first come, first served, so the p99 client's first
# request is written once 99 % of the million first requests have been answered — at the CPU both
# processes spent per request in this run (logins, first calls, refreshes, retries), on all cores.
M_FLOOR=$(awk "BEGIN{printf \"%.0f\", 0.99e6 * ($(cpu_s "$out.time") + $MOCK_CPU) / ($M_REQ > 0 ? $M_REQ : 1) / $CORES * 1000}")
row "   wake of 1 000 000: wake_skew p99" "$(printf '%.2f ms' "$MW_P99")" "< 10 ms" "$(pass_if "$MW_P99 < 10")"
# What no wake can beat on this machine: each client's state visited once, the clock read and
# written into it, on all cores, the blocks as far apart as this run's memory per client.
FLOOR_B=$(awk -v k="$(awk -F': ' '/Maximum resident/ {print $2}' "$out.time")" 'BEGIN{printf "%d", (k > 0 ? k * 1024 / 1e6 : 2048)}')
cargo bench --offline --bench wake_floor -- --bytes "$FLOOR_B" >"$RAW/wake-floor.txt" 2>&1 || true
cmd "cargo bench --bench wake_floor -- --bytes $FLOOR_B   # peak RSS of the million storm / 1 000 000"
W_FLOOR=$(sed -n 's/.*last visit after \([0-9.]*\) ms.*/\1/p' "$RAW/wake-floor.txt" | tail -1)
W_ROUNDS=$(sed -n 's/.*(median of 5: \([0-9. ]*\) ms;.*/\1/p' "$RAW/wake-floor.txt" | tail -1)
row "   floor under that wake: one clock read and one write per client, $FLOOR_B B apart, $CORES cores (median of 5: ${W_ROUNDS:-?} ms)" "${W_FLOOR:-?} ms" "(report)" ""
# The first client's wake says whether every client was waiting at the gate when it opened: a
# client still being made at the deadline wakes at its first poll, seconds late (2026-12-04: 3.76 s
# when the clients were made after the connections' warm-up).
MW_MIN=$(jqf '.histograms.wake_skew.min // 1e9 | . / 1000' "$out/report.json")
row "   the first of them to wake (wake_skew min: every client waiting at the deadline)" "$(printf '%.1f ms' "$MW_MIN")" "< 250 ms" "$(pass_if "$MW_MIN < 250")"
row "   send_skew p99 vs the CPU floor of the burst" "$(printf '%.0f / %s ms' "$MS_P99" "$M_FLOOR")" "<= 1.5 × floor" "$(pass_if "$MS_P99 <= 1.5 * $M_FLOOR")"
row "   first calls delivered (recovery samples / never_recovered)" "$M_REC / $M_NEVER" "1000000 / 0" "$(pass_if "$M_REC == 1000000 && $M_NEVER == 0")"
row "   peak RSS during the million storm" "$(rss_mib "$out.time") MiB" "(report)" ""

# ---- 9. the storm over TLS vs plain --------------------------------------------------------------
log "9. 5 000 × 4 storm over https (mock.tls: true) vs plain http: CPU per request (client + in-process mock)"
declare -A TLS_CPU_US TLS_HS
for mode in plain tls; do
    out="$RAW/storm-$mode"
    set_args=(); [[ $mode == tls ]] && set_args=(--set mock.tls=true)
    /usr/bin/time -f '%U %S' -o "$RAW/storm-$mode.time" \
        "$AB" run scenarios/storm.yaml "${set_args[@]}" --out "$out" --quiet >/dev/null 2>&1 || true
    CPU_S=$(tail -1 "$RAW/storm-$mode.time" 2>/dev/null | awk '{print $1 + $2}')   # the last line: a failed run adds one before it
    CPU_S=${CPU_S:-0}
    REQS=$(jqf '.counters.requests // 0' "$out/report.json")
    TLS_CPU_US[$mode]=$(awk "BEGIN{printf \"%.1f\", ($REQS > 0) ? $CPU_S * 1e6 / $REQS : 0}")
    TLS_HS[$mode]=$(jqf -r '(.histograms.tls_handshake.count // 0 | tostring) + " handshakes, p99 " + ((.histograms.tls_handshake.p99 // 0) / 1000 | tostring) + " ms"' "$out/report.json")
    printf '  %s: %s CPU s, %s requests, %s µs CPU/request, %s\n' "$mode" "$CPU_S" "$REQS" "${TLS_CPU_US[$mode]}" "${TLS_HS[$mode]}" >&2
done
cmd "/usr/bin/time -f '%U %S' $AB run scenarios/storm.yaml [--set mock.tls=true]   # CPU s (user+sys) / requests"
RATIO=$(awk "BEGIN{printf \"%.2f\", (${TLS_CPU_US[plain]} > 0) ? ${TLS_CPU_US[tls]} / ${TLS_CPU_US[plain]} : 0}")
row "9. storm 5 000 × 4 over TLS vs plain: CPU µs/request, client + in-process mock (tls: ${TLS_HS[tls]})" \
    "${TLS_CPU_US[tls]} / ${TLS_CPU_US[plain]} µs (× $RATIO)" "recorded, no target" "PASS"

# ---- results -------------------------------------------------------------------------------------
LOAD_END=$(load1)
{
    echo "# authbench performance figures"
    echo
    echo "Written by \`bench/run-all.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $CORES cores ($CPU), $(uname -sr),"
    echo "open-file limit $(ulimit -n). Load average (1 min) $LOAD_START at the start, $LOAD_END at the end."
    echo "Everything ran on loopback inside a fresh network namespace; load generator and server share the"
    echo "same $CORES cores. Release build (build step: ${AB_BENCH_BUILD_S:-?} s, not part of the measurements)."
    echo
    echo "| figure | measured | target | result |"
    echo "|---|---|---|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r a b c d <<<"$r"
        echo "| $a | $b | $c | $d |"
    done
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
    [[ ${#NOTES[@]} -gt 0 ]] && echo
    echo "## Exact commands"
    echo
    echo '```sh'
    for c in "${COMMANDS[@]}"; do echo "${c//$ROOT\//}"; done
    echo '```'
    echo
    echo "Raw output of this run: \`bench/results/raw/$STAMP/\` (not committed)."
} >"$RESULTS/latest.md"
cp "$RESULTS/latest.md" "$RAW/results.md"
log "wrote ${RESULTS#$ROOT/}/latest.md"
MISSES=$(printf '%s\n' "${ROWS[@]}" | grep -c '|MISS$' || true)
echo "$MISSES target(s) missed" >&2
