#!/usr/bin/env bash
# A three-host sweep on one machine, with one host's network cut mid-sweep.
#
# Usage: multihost-sweep.sh DLSWEEP_BINARY CONFIG OUTDIR
#
# Builds a test bed of 3 network namespaces (testbed.sh), runs the coordinator
# in h0 bound to tcp://10.231.0.1:$DLSW_PORT, 2 workers in h1 and 2 in h2
# (--heartbeat 1 --reconnect-timeout 30), waits until results.sqlite holds
# $DLSW_CUT_AFTER results, cuts h2's link, waits for the coordinator to finish,
# tears the test bed down and exits with the coordinator's status.
#
# Environment (all optional):
#   DLSW_PORT=5555            coordinator port (inside h0's own namespace, so no clash)
#   DLSW_TESTBED_ID=ms<pid>   namespace id, see testbed.sh
#   DLSW_TIMEOUT=600          seconds the whole sweep may take
#   DLSW_CUT_AFTER=1          cut h2 once this many results are stored
#   DLSW_RESTORE_AFTER=       seconds after the cut to restore h2 (empty: never)
#   DLSW_REQUIRE_CUT=1        1: exit 5 if the sweep ended before the cut happened
#   DLSW_WORKER_TIMEOUT=5     coordinator --worker-timeout
#   DLSW_WORKER_GRACE=10      seconds to wait for reachable workers to exit after the sweep
#   DLSW_COORDINATOR_ARGS=    extra coordinator arguments (split on spaces)
#   DLSW_WORKER_ARGS=         extra worker arguments (split on spaces)
#   DLSW_PROGRESS_QUERY='select count(*) from results'   how results are counted
#
# Output, all under OUTDIR: the coordinator's own files (results.sqlite,
# table.*), logs/coordinator.out (stdout: the table), logs/coordinator.log
# (stderr: progress), logs/h1-w0.log ... logs/h2-w1.log (workers),
# multihost-summary.txt (key=value lines: coordinator_status, cut, results_at_cut,
# results_final, worker statuses). Progress of this script goes to stderr.
#
# Exit status: the coordinator's status when it finished (0 = sweep complete);
# 2 usage; 3 environment (not root, no `ip netns`, no sqlite3); 4 setup failed
# (test bed or coordinator did not start); 5 the sweep ended before h2 was cut
# (with DLSW_REQUIRE_CUT=1); 124 timeout; 130/143 interrupted.
set -Eeuo pipefail

readonly PROG=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testbed=$here/testbed.sh

log() { printf '%s: [%s] %s\n' "$PROG" "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { local code=$1; shift; log "error: $*"; exit "$code"; }

if [[ $# -ne 3 ]]; then
    printf 'usage: %s DLSWEEP_BINARY CONFIG OUTDIR\n' "$PROG" >&2
    exit 2
fi
[[ -x $1 ]] || fail 2 "dlsweep binary '$1' is not an executable file"
[[ -f $2 ]] || fail 2 "config '$2' is not a file"
binary=$(realpath -- "$1")
config=$(realpath -- "$2")
mkdir -p -- "$3" || fail 2 "cannot create output folder '$3'"
out=$(realpath -- "$3")

port=${DLSW_PORT:-5555}
timeout_s=${DLSW_TIMEOUT:-600}
cut_after=${DLSW_CUT_AFTER:-1}
restore_after=${DLSW_RESTORE_AFTER:-}
require_cut=${DLSW_REQUIRE_CUT:-1}
worker_timeout=${DLSW_WORKER_TIMEOUT:-5}
progress_query=${DLSW_PROGRESS_QUERY:-select count(*) from results}
read -r -a coordinator_args <<<"${DLSW_COORDINATOR_ARGS:-}"
read -r -a worker_args <<<"${DLSW_WORKER_ARGS:-}"
export DLSW_TESTBED_ID=${DLSW_TESTBED_ID:-ms$$}

if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    fail 2 "DLSW_PORT must be a port number, got '$port'"
fi
[[ $timeout_s =~ ^[0-9]+$ ]] || fail 2 "DLSW_TIMEOUT must be whole seconds, got '$timeout_s'"
[[ $cut_after =~ ^[0-9]+$ ]] || fail 2 "DLSW_CUT_AFTER must be a count, got '$cut_after'"
[[ -z $restore_after || $restore_after =~ ^[0-9]+$ ]] || fail 2 "DLSW_RESTORE_AFTER must be whole seconds, got '$restore_after'"
[[ $(id -u) -eq 0 ]] || fail 3 "must run as root (network namespaces need CAP_NET_ADMIN)"
command -v sqlite3 >/dev/null 2>&1 || fail 3 "sqlite3 is needed to watch progress (apt-get install sqlite3)"

coordinator_address=tcp://$("$testbed" addr 0):$port
logs=$out/logs
summary=$out/multihost-summary.txt
mkdir -p -- "$logs"

declare -A worker_pids=()
coordinator_pid=

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    # Our processes by pid; `down` then ends whatever still lives in the namespaces.
    if [[ -n $coordinator_pid ]]; then kill -TERM "$coordinator_pid" 2>/dev/null || true; fi
    local name
    for name in "${!worker_pids[@]}"; do
        kill -TERM "${worker_pids[$name]}" 2>/dev/null || true
    done
    "$testbed" down >/dev/null 2>&1 || log "warning: test bed teardown failed; run: DLSW_TESTBED_ID=$DLSW_TESTBED_ID $testbed down"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sets results_n to the results stored so far (0 while the database or its
# table does not exist). Not for $(...): it may update progress_query.
# If the query fails on an existing database, the first table whose name
# contains "result" is counted instead, and the script says so once.
results_n=0
count_results() {
    local n='' table
    if [[ -f $out/results.sqlite ]]; then
        n=$(sqlite3 -cmd '.timeout 2000' "$out/results.sqlite" "$progress_query" 2>/dev/null | tail -n 1) || n=''
        if [[ ! $n =~ ^[0-9]+$ ]]; then
            table=$(sqlite3 -cmd '.timeout 2000' "$out/results.sqlite" \
                "select name from sqlite_master where type = 'table' and name like '%result%' order by length(name) limit 1" 2>/dev/null) || table=''
            if [[ $table =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
                progress_query="select count(*) from $table"
                log "counting results with: $progress_query"
                n=$(sqlite3 -cmd '.timeout 2000' "$out/results.sqlite" "$progress_query" 2>/dev/null | tail -n 1) || n=''
            fi
        fi
    fi
    if [[ $n =~ ^[0-9]+$ ]]; then results_n=$n; else results_n=0; fi
}

# --- test bed and processes ---------------------------------------------------

"$testbed" up 3 >&2 || fail 4 "could not build the test bed"

log "coordinator in h0 on $coordinator_address, out $out"
"$testbed" exec 0 env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    "$binary" coordinator "$config" --bind "$coordinator_address" --out "$out" \
    --heartbeat 1 --worker-timeout "$worker_timeout" "${coordinator_args[@]}" \
    >"$logs/coordinator.out" 2>"$logs/coordinator.log" </dev/null &
coordinator_pid=$!

for host in 1 2; do
    for w in 0 1; do
        "$testbed" exec "$host" env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
            "$binary" worker --connect "$coordinator_address" --threads 1 \
            --heartbeat 1 --reconnect-timeout 30 "${worker_args[@]}" \
            >"$logs/h$host-w$w.log" 2>&1 </dev/null &
        worker_pids[h$host-w$w]=$!
    done
done
log "workers: h1-w0 h1-w1 h2-w0 h2-w1 (logs in $logs)"

sleep 1
if ! kill -0 "$coordinator_pid" 2>/dev/null; then
    wait "$coordinator_pid" && status=0 || status=$?
    coordinator_pid=
    fail 4 "coordinator exited at once with status $status; see $logs/coordinator.log"
fi

# --- watch, cut, wait -----------------------------------------------------------

start=$SECONDS
cut=no
cut_at=
results_at_cut=
restored=no
status=
while kill -0 "$coordinator_pid" 2>/dev/null; do
    if ((SECONDS - start > timeout_s)); then
        log "timeout: the coordinator did not finish within ${timeout_s}s"
        count_results
        printf 'coordinator_status=timeout\ncut=%s\nresults_at_cut=%s\nresults_final=%s\n' \
            "$cut" "$results_at_cut" "$results_n" >"$summary"
        exit 124
    fi
    if [[ $cut == no ]]; then
        count_results
        n=$results_n
        if ((n >= cut_after)); then
            "$testbed" cut 2
            cut=yes
            cut_at=$SECONDS
            results_at_cut=$n
            log "cut h2's link after $n results"
        fi
    elif [[ -n $restore_after && $restored == no ]] && ((SECONDS - cut_at >= restore_after)); then
        "$testbed" restore 2
        restored=yes
        log "restored h2's link"
    fi
    sleep 0.5
done
wait "$coordinator_pid" && status=0 || status=$?
coordinator_pid=
count_results
final=$results_n
log "coordinator exited with status $status ($final results)"

# Workers that can still hear the coordinator were told the sweep is done;
# give them $DLSW_WORKER_GRACE seconds, then report. Workers on a host that is
# still cut cannot hear it: they are not waited for, the teardown ends them.
{
    printf 'coordinator_status=%s\ncut=%s\nresults_at_cut=%s\nresults_final=%s\nrestored=%s\n' \
        "$status" "$cut" "$results_at_cut" "$final" "$restored"
    deadline=$((SECONDS + ${DLSW_WORKER_GRACE:-10}))
    for name in h1-w0 h1-w1 h2-w0 h2-w1; do
        pid=${worker_pids[$name]}
        if [[ $name != h2-* || $cut == no || $restored == yes ]]; then
            while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
        fi
        if kill -0 "$pid" 2>/dev/null; then
            printf 'worker_%s=running\n' "${name/-/_}"
        else
            wait "$pid" && ws=0 || ws=$?
            printf 'worker_%s=%s\n' "${name/-/_}" "$ws"
            unset "worker_pids[$name]"
        fi
    done
} >"$summary"
log "summary in $summary"

if [[ $cut == no && $require_cut == 1 ]]; then
    log "the sweep ended before $cut_after results were seen, so h2 was never cut (DLSW_REQUIRE_CUT=0 accepts this)"
    exit 5
fi
exit "$status"
