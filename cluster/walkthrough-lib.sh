# shellcheck shell=bash
# What the schedulers' walk-through tests (slurm/walkthrough-test.sh,
# gridengine/walkthrough-test.sh) share: the work folder, one line per check with the
# failures counted, and waiting on the queue and on the results store. Sourced, not run.
# The sourcing script defines in_queue JOB (true while the scheduler lists the job).
# check and wait_until are the test beds' (testbed-lib.sh).
# shellcheck source-path=SCRIPTDIR source=testbed-lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/testbed-lib.sh"

# Usage: walkthrough_setup DLSWEEP_BINARY CONFIG WORKDIR. Exports DLSWEEP, sets `work`
# (WORKDIR, absolute), copies CONFIG to work/sweep.yaml, enters work, empties
# work/complete.txt (the caller's list of completed results folders).
walkthrough_setup() {
    DLSWEEP=$(realpath -- "$1")
    export DLSWEEP
    work=$3
    mkdir -p -- "$work"
    work=$(realpath -- "$work")
    cp -- "$2" "$work/sweep.yaml"
    cd "$work" || exit 1
    : >"$work/complete.txt"
    # Short enough for a test: how long worker jobs wait for a coordinator.
    export DLSWEEP_ADDRESS_WAIT=120
    # Workers are given the coordinator host's name; a machine that cannot resolve its own
    # name gives them the loopback address instead.
    if ! getent hosts "$(hostname)" >/dev/null 2>&1; then
        echo "walkthrough-test.sh: $(hostname) does not resolve: DLSWEEP_COORD_HOST=127.0.0.1"
        export DLSWEEP_COORD_HOST=127.0.0.1
    fi
}

say() { printf '%s: %s\n' "$(date -u +%T)" "$*"; }

# Waits (up to $1 seconds) until none of the given jobs is in the queue any more.
wait_gone() {
    local seconds=$1 i job busy
    shift
    for ((i = 0; i < seconds * 2; i++)); do
        busy=no
        for job in "$@"; do in_queue "$job" && busy=yes; done
        [[ $busy == no ]] && return 0
        sleep 0.5
    done
    return 1
}
recorded() { sqlite3 -readonly "$1/results.sqlite" 'select count(*) from results' 2>/dev/null || echo 0; }
has_recorded() { (($(recorded "$1") >= $2)); }
# Waits (up to 180 s) until $1 holds at least $2 results.
wait_recorded() { wait_until 180 has_recorded "$@"; }
handed_back() { grep -hE 'handed back [1-9][0-9]* task' "$@" 2>/dev/null | grep -q .; }

# PASS, or FAIL with the output files given (without table lines) and status 1.
walkthrough_verdict() {
    if ((failures == 0)); then
        echo PASS
        return 0
    fi
    echo "FAIL ($failures checks); job outputs:"
    local f
    for f in "$@"; do
        printf '== %s\n' "$f"
        grep -v '^|' -- "$f"
    done
    exit 1
}
