#!/usr/bin/env bash
# Tries cluster/ssh/{start,list,stop}-workers.sh against test-bed hosts (network
# namespaces, netns-ssh.sh instead of ssh) with a coordinator in h0.
#
# Usage: ssh-selftest.sh [DLSWEEP_BINARY]   (default: fake-dlsweep.py; root needed)
# Prints PASS/FAIL; exit 0 = PASS, 1 = FAIL, 3 = not root / no `ip netns`.
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ssh_dir=$(cd "$here/../ssh" && pwd)
dlsweep=$(realpath -- "${1:-$here/fake-dlsweep.py}")
export DLSW_TESTBED_ID=${DLSW_TESTBED_ID:-ss$$}
export DLSWEEP_SSH=$here/netns-ssh.sh
export DLSW_NETNS_HOME
DLSW_NETNS_HOME=$(mktemp -d "${TMPDIR:-/tmp}/dlsw-ssh-selftest.XXXXXX")
work=$DLSW_NETNS_HOME
coordinator_pid=

cleanup() {
    if [[ -n $coordinator_pid ]]; then kill -TERM "$coordinator_pid" 2>/dev/null || true; fi
    "$here/testbed.sh" down >/dev/null 2>&1 || true
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
check() {
    local what=$1
    shift
    if "$@"; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; failures=$((failures + 1)); fi
}
count_running() { grep -c ' pid .* running ' "$1" || true; }

"$here/testbed.sh" up 3 || exit $?
printf 'fake_tasks: 100000\nfake_task_seconds: 1\n' >"$work/sweep.yaml"
"$here/testbed.sh" exec 0 "$dlsweep" coordinator "$work/sweep.yaml" --bind tcp://10.231.0.1:5555 \
    --out "$work/out" --heartbeat 1 >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
printf '10.231.0.2 workers=2 dlsweep=%s\nh2 dlsweep=%s   # auto\n' "$dlsweep" "$dlsweep" >"$work/hosts"

# A key in each host's own home, named with a quoted ~/ (the fake worker reads it).
for h in h1 h2; do
    mkdir -p "$work/$DLSW_TESTBED_ID/$h/.dlsweep" && echo "key of $h" >"$work/$DLSW_TESTBED_ID/$h/.dlsweep/worker.key"
done
# shellcheck disable=SC2088 # the ~ is for the remote side
"$ssh_dir/start-workers.sh" "$work/hosts" tcp://10.231.0.1:5555 auto -- --heartbeat 1 \
    --curve-key '~/.dlsweep/worker.key' --server-key '~/.dlsweep/worker.key' >"$work/start1" 2>&1
check "start-workers.sh exits 0" test $? -eq 0
"$ssh_dir/list-workers.sh" "$work/hosts" >"$work/list1" 2>&1
check "list-workers.sh exits 0" test $? -eq 0
check "h1 runs one node worker (default)" test "$(grep -c '^10.231.0.2: worker .* running' "$work/list1")" -eq 1
check "... with 2 compute processes (workers=2)" grep -q '^10.231.0.2: started 1, already running 0, wanted 1 node worker (2 compute processes)' "$work/start1"
check "h2 runs one node worker with one process per core (auto)" grep -qE '^h2: started 1, already running 0, wanted 1 node worker \([1-9][0-9]* compute processes\)' "$work/start1"
sleep 3
check "the workers got tasks" grep -q 'progress' "$work/out/../coordinator.log"
"$ssh_dir/start-workers.sh" "$work/hosts" tcp://10.231.0.1:5555 auto >"$work/start2" 2>&1
check "starting again leaves running workers alone" grep -q '^10.231.0.2: started 0, already running 1' "$work/start2"
"$ssh_dir/stop-workers.sh" "$work/hosts" --timeout 20 >"$work/stop" 2>&1
check "stop-workers.sh exits 0" test $? -eq 0
"$ssh_dir/list-workers.sh" "$work/hosts" >"$work/list2" 2>&1
check "no worker left running" test "$(count_running "$work/list2")" -eq 0
check "no worker process left in h1 or h2" test -z "$(ip netns pids "dlsw-$DLSW_TESTBED_ID-h1")$(ip netns pids "dlsw-$DLSW_TESTBED_ID-h2")"
# One worker per core instead of a node worker.
DLSWEEP_NODE_WORKER=0 "$ssh_dir/start-workers.sh" "$work/hosts" tcp://10.231.0.1:5555 auto >"$work/start3" 2>&1
"$ssh_dir/list-workers.sh" "$work/hosts" >"$work/list3" 2>&1
check "with DLSWEEP_NODE_WORKER=0, h1 runs 2 workers (workers=2)" test "$(grep -c '^10.231.0.2: worker .* running' "$work/list3")" -eq 2
"$ssh_dir/stop-workers.sh" "$work/hosts" --timeout 20 >"$work/stop3" 2>&1
check "... and stop-workers.sh stops them" test $? -eq 0
# shellcheck disable=SC2016 # $1 expands in the inner bash
check "bad hosts file is refused" bash -c '! "$1/start-workers.sh" <(echo "h1 worker=3") tcp://10.231.0.1:5555 2>/dev/null' _ "$ssh_dir"

if ((failures == 0)); then
    echo PASS
else
    echo "FAIL ($failures checks)"
    tail -n +1 "$work"/start1 "$work"/list1 "$work"/start2 "$work"/stop "$work"/list2 "$work"/start3 "$work"/list3
    exit 1
fi
