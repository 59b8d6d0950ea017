#!/usr/bin/env bash
# The Grid Engine launchers on a real Grid Engine (run it inside testbed.sh run):
#   1. submit.sh with one worker task; workers added while it runs (an array job of two
#      tasks), one of them deleted mid-sweep (its workers hand their tasks back): the
#      sweep completes, every worker task ends by itself;
#   2. submit.sh again; qdel of the coordinator mid-sweep: it stops cleanly, saves the
#      partial table and says how to resume; the worker task waits; resumed with
#      DLSWEEP_OUT (no new workers): the waiting task joins, the sweep completes;
#   3. faults: no qmaster (submit.sh names the qsub that failed, nothing is submitted);
#      a parallel environment that does not exist (the coordinator is submitted, the
#      command that adds its workers is printed).
# Writes WORKDIR/complete.txt: one results folder per line whose sweep completed (the
# caller compares each table with a local `dlsweep run` of CONFIG).
#
# Usage: . DIR/env.sh; walkthrough-test.sh DLSWEEP_BINARY CONFIG WORKDIR
#   e.g. sudo cluster/gridengine/testbed.sh run /tmp/tb cluster/gridengine/walkthrough-test.sh \
#            .build/debug/dlsweep configs/quick.yaml /tmp/walk
# The test bed needs 4 slots (testbed.sh's default).
# Exit status: 0 PASS, 1 FAIL (the failed checks and the job outputs are printed).
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 3 ]] || { echo "usage: walkthrough-test.sh DLSWEEP_BINARY CONFIG WORKDIR" >&2; exit 2; }
[[ -n ${SGE_ROOT:-} ]] || { echo "walkthrough-test.sh: SGE_ROOT is not set (run it inside testbed.sh run)" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=walkthrough-lib.sh
. "$here/../walkthrough-lib.sh"
walkthrough_setup "$@"
submit_sh=$here/submit.sh

in_queue() { qstat -u '*' 2>/dev/null | awk -v j="$1" 'NR > 2 && $1 == j' | grep -q .; }
# True when task $2 of array job $1 is not in the queue.
task_gone() { ! qstat -u '*' 2>/dev/null | awk -v j="$1" -v t="$2" 'NR > 2 && $1 == j && $NF == t' | grep -q .; }
# True when there are $2 files matching the glob $1 and each says its worker registered.
all_registered() {
    local files file
    mapfile -t files < <(compgen -G "$1" || true)
    ((${#files[@]} >= $2)) || return 1
    for file in "${files[@]}"; do grep -q 'registered with coordinator' "$file" || return 1; done
}
# The job's exit status as Grid Engine's accounting records it (flushed every second).
exit_status() {
    local i status
    for ((i = 0; i < 20; i++)); do
        status=$(qacct -j "$1" 2>/dev/null | awk '$1 == "exit_status" { print $2; exit }')
        [[ -n $status ]] && break
        sleep 1
    done
    printf '%s\n' "$status"
}
submit_sweep() { "$submit_sh" sweep.yaml 2>>submit.log | tail -n 1; }
# The worker array job submit.sh submitted last.
last_workers() { sed -n 's/.*workers: array job \([0-9]*\),.*/\1/p' submit.log | tail -n 1; }

# --- 1. a sweep, workers added, one deleted -------------------------------------------------

say "1. submit.sh; workers added (array of 2), one deleted mid-sweep"
c1=$(DLSWEEP_WORKER_JOBS=1 DLSWEEP_SLOTS=1 submit_sweep)
out1=$work/dlsweep-runs/$c1
w1=$(last_workers)
check "submit.sh submitted coordinator job $c1" test -n "$c1"
check "... which records 4 results" wait_recorded "$out1" 4
a1=$(qsub -terse -t 1-2 -pe smp 1 "$here/workers.sh" "$out1" | cut -d. -f1)
check "added workers: array job $a1 of two tasks" test -n "$a1"
check "... both joined the coordinator" wait_until 120 all_registered "$out1/logs/sge-$a1.*.log" 2
qdel "$a1.2" >/dev/null
check "the deleted task 2 of $a1 ends within 60 s" wait_until 60 task_gone "$a1" 2
check "... its worker handed its tasks back" handed_back "$out1/logs/sge-$a1.2-"*.log
check "the sweep and every worker task end within 300 s" wait_gone 300 "$c1" "$a1" "$w1"
check "coordinator job $c1 exited with status 0" test "$(exit_status "$c1")" = 0
check "... said the sweep is complete" grep -q 'the sweep is complete' "dlsweep-$c1.out"
check "... and copied the table next to its log" test -s "dlsweep-$c1.table.md" -a -s "dlsweep-$c1.table.csv"
check "coordinator.finished says status=0" grep -qx 'status=0' "$out1/coordinator.finished"
check "worker task 1 of $a1 exited with status 0" grep -q 'the workers exited' "dlsweep-workers-$a1.1.out"
[[ -f $out1/table.json ]] && printf '%s\n' "$out1" >>"$work/complete.txt"

# --- 2. qdel of the coordinator, resume ------------------------------------------------------

say "2. qdel of the coordinator mid-sweep, resume with DLSWEEP_OUT"
c2=$(DLSWEEP_WORKER_JOBS=1 DLSWEEP_SLOTS=2 submit_sweep)
w2=$(last_workers)
out2=$work/dlsweep-runs/$c2
check "coordinator job $c2 records 8 results" wait_recorded "$out2" 8
qdel "$c2" >/dev/null
check "deleted coordinator job $c2 ends within 60 s" wait_gone 60 "$c2"
check "... stopped cleanly on qdel's warning signal" grep -q 'deleted (USR2): stopping the coordinator' "dlsweep-$c2.out"
check "... saved the partial table" grep -qE '^Partial table of Grid Engine job [0-9]+ .*: [0-9]+ of [0-9]+ tasks recorded' "dlsweep-$c2.partial-table.md"
check "... and says how to resume" grep -q "to resume it: cd .* && DLSWEEP_OUT=$out2 qsub" "dlsweep-$c2.out"
check "coordinator.finished says interrupted" grep -q '^status=interrupted' "$out2/coordinator.finished"
check "the workers of job $w2 were told the coordinator stops" grep -q 'coordinator says: coordinator stopping' "$out2/logs/sge-$w2."*.log
check "... and the task waits for a resume" in_queue "$w2"
c2b=$(DLSWEEP_OUT=$out2 DLSWEEP_WORKER_JOBS=0 submit_sweep)
check "resumed: coordinator job $c2b" test -n "$c2b"
check "it and the waiting worker task end within 300 s" wait_gone 300 "$c2b" "$w2"
check "resumed coordinator job $c2b exited with status 0" test "$(exit_status "$c2b")" = 0
check "... after resuming the sweep" grep -q 'resuming the sweep' "dlsweep-$c2b.out"
check "the worker task joined both coordinators" test "$(grep -c 'starting a node worker with 2 compute processes' "dlsweep-workers-$w2.1.out")" -eq 2
[[ -f $out2/table.json ]] && printf '%s\n' "$out2" >>"$work/complete.txt"

# --- 3. faults -------------------------------------------------------------------------------

say "3. submit.sh without a qmaster, and with a parallel environment that does not exist"
status=0
SGE_QMASTER_PORT=1 "$submit_sh" sweep.yaml >no-qmaster.out 2>&1 || status=$?
check "without a qmaster submit.sh fails" test "$status" -eq 1
check "... naming the qsub that failed" grep -q "'qsub -terse .*sweep.sh sweep.yaml' failed" no-qmaster.out
check "... and saying nothing was submitted" grep -q 'nothing was submitted' no-qmaster.out
status=0
DLSWEEP_PE=nosuchpe "$submit_sh" sweep.yaml >no-pe.out 2>&1 || status=$?
c3=$(sed -n 's/.*coordinator: job \([0-9]*\) .*/\1/p' no-pe.out)
check "with an unknown parallel environment submit.sh fails" test "$status" -eq 1
check "... naming the qsub of the workers" grep -q "'qsub -terse -t 1-2 -pe nosuchpe 1 .*workers.sh .*' failed" no-pe.out
check "... keeping coordinator job $c3 and printing how to add its workers" grep -q "add its workers once qsub works again: qsub -t 1-2 -pe nosuchpe" no-pe.out
[[ -n $c3 ]] && qdel "$c3" >/dev/null 2>&1
wait_gone 60 "$c3" || true

walkthrough_verdict dlsweep-*.out submit.log no-*.out
