#!/usr/bin/env bash
# The README's Slurm walk-through on a real Slurm (run it inside testbed.sh):
#   1. sbatch sweep.sbatch; add-workers.sbatch as a single job (its time limit's USR1
#      comes mid-sweep: its workers hand their tasks back) and as an array while it
#      runs (the array's second element waits for cores), one more with
#      --dependency=afterany (starts after the end), and one on a results folder whose
#      address a lost sweep job left behind: the sweep completes and every add-workers
#      job ends promptly with status 0;
#   2. a second sweep job on the same folder (refused at once), scancel mid-sweep, an
#      add-workers job that outlives it, resubmission with
#      DLSWEEP_OUT: the workers hand their tasks back, the partial table says how much
#      it covers, slurm-<id>.out says how to resume, the add-workers job joins the
#      resumed sweep, logs are appended, the resumed sweep completes;
#   3. the time-limit path (USR1 to the batch script, as --signal=B:USR1@120 sends it)
#      with DLSWEEP_MAX_REQUEUES=0 and a resume by hand: the workers hand their tasks
#      back, the job does not requeue itself and says how to resume, the resumed sweep
#      completes; and a real one-minute time limit on an add-workers job delivers its USR1;
#   4. at the same time, one node each: a sweep that gets USR1 (its time limit near)
#      requeues itself, and a sweep preempted by a job of the higher-tier partition
#      "urgent" is requeued by Slurm: both resume and complete by themselves;
#   5. a heterogeneous job (coordinator alone on n1, workers on n2) that gets USR1
#      mid-sweep, requeues itself and completes.
# Writes WORKDIR/complete.txt: one results folder per line whose sweep completed (the
# caller compares each table with a local `dlsweep run` of CONFIG).
#
# Usage: SLURM_CONF=... walkthrough-test.sh DLSWEEP_BINARY CONFIG WORKDIR
#   e.g. sudo cluster/slurm/testbed.sh run /tmp/tb cluster/slurm/walkthrough-test.sh \
#            .build/debug/dlsweep configs/quick.yaml /tmp/walk
# The test bed needs 2 nodes with 2 CPUs each (testbed.sh's default).
# Exit status: 0 PASS, 1 FAIL (the failed checks and the job outputs are printed).
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 3 ]] || { echo "usage: walkthrough-test.sh DLSWEEP_BINARY CONFIG WORKDIR" >&2; exit 2; }
[[ -n ${SLURM_CONF:-} ]] || { echo "walkthrough-test.sh: SLURM_CONF is not set (run it inside testbed.sh run)" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=walkthrough-lib.sh
. "$here/../walkthrough-lib.sh"
walkthrough_setup "$@"
sweep=$here/sweep.sbatch
add=$here/add-workers.sbatch

submit() { sbatch --parsable "$@" | cut -d';' -f1; }

# Job (or array element) fields from scontrol, one line per job: "ID STATE EXIT RUNSECONDS".
job_lines() {
    scontrol -o show job "$1" 2>/dev/null | awk '{
        id = ""; state = ""; code = ""; run = ""
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "JobId") id = kv[2]
            else if (kv[1] == "JobState") state = kv[2]
            else if (kv[1] == "ExitCode") code = kv[2]
            else if (kv[1] == "RunTime") { n = split(kv[2], t, ":"); run = t[n] + 60 * t[n - 1] + 3600 * (n > 2 ? t[n - 2] : 0) }
        }
        print id, state, code, run
    }'
}
# True when every job (array element) of $1 is COMPLETED with exit code 0.
completed_ok() {
    local lines
    lines=$(job_lines "$1")
    [[ -n $lines ]] && ! grep -qv ' COMPLETED 0:0 ' <<<"$lines"
}
# Longest run time in seconds among the jobs (array elements) of $1.
run_seconds() { job_lines "$1" | awk '$4 > m { m = $4 } END { print m + 0 }'; }

in_queue() { [[ -n $(squeue -h -j "$1" 2>/dev/null) ]]; }
# Waits (up to 180 s) until a worker log starting with $1 says it registered and $2
# holds at least $3 results.
wait_joined_and_recorded() {
    local i
    for ((i = 0; i < 360; i++)); do
        cat -- "$1"*.log 2>/dev/null | grep -q 'registered with coordinator' && (($(recorded "$2") >= $3)) && return 0
        sleep 0.5
    done
    return 1
}
# Every worker log given left by the worker's own way out (not a SIGKILL): it handed its
# tasks back on SIGTERM, or the coordinator, signalled at the same moment, told it first.
all_left_cleanly() {
    local log
    for log in "$@"; do
        grep -qE 'stopping: handed back|coordinator says: coordinator stopping' "$log" || return 1
    done
}
lacks() { ! grep -q -- "$1" "$2"; }
# Each array element's slurm-<id>.out names its own id (the id in its worker log names).
array_outputs_match() {
    local id
    for id in $(scontrol -o show job "$1" | grep -o '^JobId=[0-9]*' | cut -d= -f2); do
        grep -q "job $id (array" "slurm-$id.out" || return 1
    done
}

# --- 1. a sweep with added workers ----------------------------------------------------

say "1. sweep + add-workers (single, array, after the end), and a stale address"
j1=$(submit --nodes=2 --ntasks-per-node=1 "$sweep" sweep.yaml)
out1=$work/dlsweep-runs/$j1
a1=$(submit --nodes=1 --ntasks-per-node=1 "$add" "dlsweep-runs/$j1")
arr=$(submit --array=0-1 --nodes=1 --ntasks-per-node=1 "$add" "dlsweep-runs/$j1")
late=$(submit --dependency=afterany:"$j1" --nodes=1 --ntasks-per-node=1 "$add" "dlsweep-runs/$j1")
check "sweep, add-workers and array jobs accepted" test -n "$j1" -a -n "$a1" -a -n "$arr" -a -n "$late"
# The add-workers job's time limit comes near (what its --signal=B:USR1@60 sends) while
# the sweep runs: its workers hand their tasks back and the sweep goes on without them.
check "add-workers job $a1 joins and the sweep records 8 results" wait_joined_and_recorded "$out1/logs/add-$a1-" "$out1" 8
scancel --batch --signal=USR1 "$a1"
check "add-workers job $a1 ends within 60 s of USR1" wait_gone 60 "$a1"
check "... with status 0" completed_ok "$a1"
check "... its workers handed their tasks back" handed_back "$out1/logs/add-$a1-"*.log
check "... and the coordinator put them back in the queue" grep -qE 'task\(s\) back in the queue' "$out1/logs/coordinator.log"
check "all of them end within 300 s" wait_gone 300 "$j1" "$a1" "$arr" "$late"
check "sweep job $j1 completed with status 0" completed_ok "$j1"
check "table copied next to slurm-$j1.out" test -s "dlsweep-$j1.table.md" -a -s "dlsweep-$j1.table.csv"
check "table printed into slurm-$j1.out" grep -q '^| ' "slurm-$j1.out"
check "no 'sweep is not done' message on success" lacks "not done" "slurm-$j1.out"
check "coordinator.finished says status=0" grep -qx 'status=0' "$out1/coordinator.finished"
check "connect.address removed at the end" test ! -e "$out1/connect.address"
check "both array elements of $arr completed with status 0" completed_ok "$arr"
check "array elements' logs are named after their slurm-<id>.out" array_outputs_match "$arr"
check "add-workers job $late (after the end) completed with status 0" completed_ok "$late"
check "... and said the sweep is complete" grep -q 'is complete' "slurm-$late.out"
check "... within 20 s" test "$(run_seconds "$late")" -le 20
[[ -f $out1/table.json ]] && printf '%s\n' "$out1" >>"$work/complete.txt"

# A sweep job lost with its host leaves connect.address behind and no coordinator.finished.
mkdir -p stale
printf 'tcp://127.0.0.1:9\njob=%s\n' "$j1" >stale/connect.address
s1=$(DLSWEEP_ADDRESS_WAIT=5 submit --nodes=1 --ntasks-per-node=1 "$add" stale)
check "add-workers on a stale address ends within 90 s" wait_gone 90 "$s1"
check "... with status 0" completed_ok "$s1"
check "... naming the job that left it" grep -q "left by job $j1, which no longer runs" "slurm-$s1.out"
check "... and started no worker" test -z "$(compgen -G "stale/logs/add-$s1-*.log")"

# --- 2. scancel, an add-workers job that waits, and a resume ---------------------------

say "2. scancel mid-sweep, resume with DLSWEEP_OUT"
j2=$(submit --nodes=2 --ntasks-per-node=1 "$sweep" sweep.yaml)
out2=$work/dlsweep-runs/$j2
a2=$(submit --nodes=1 --ntasks-per-node=1 "$add" "dlsweep-runs/$j2")
check "sweep job $j2 records 8 results" wait_recorded "$out2" 8
# A second job on the same folder while the first runs: refused, the first left alone.
j2x=$(DLSWEEP_OUT=$out2 submit --nodes=1 --ntasks-per-node=1 "$sweep" sweep.yaml)
check "a second sweep job on the folder in use ends within 60 s" wait_gone 60 "$j2x"
check "... saying the folder is in use" grep -q 'in use by another coordinator' "slurm-$j2x.out"
check "... and leaves the running sweep's address alone" grep -q "^job=$j2\$" "$out2/connect.address"
scancel "$j2"
check "cancelled job $j2 ends within 60 s" wait_gone 60 "$j2"
check "coordinator.finished says interrupted" grep -q '^status=interrupted' "$out2/coordinator.finished"
check "workers left cleanly on scancel (not killed)" all_left_cleanly "$out2"/logs/worker-*.log
check "partial table says how many tasks it covers" grep -qE '^Partial table of Slurm job [0-9]+ .*: [0-9]+ of [0-9]+ tasks recorded' "dlsweep-$j2.partial-table.md"
check "slurm-$j2.out says how to resume" grep -q "to resume it: cd .* && DLSWEEP_OUT=$out2 sbatch" "slurm-$j2.out"
check "add-workers job $a2 still waits for a resume" in_queue "$a2"
# Resumed with the very command slurm-<id>.out printed.
resume=$(sed -n 's/.*to resume it: //p' "slurm-$j2.out" | tail -n 1)
j2b=$( (eval "$resume") | sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p')
check "the printed resume command submitted a job" test -n "$j2b"
check "resumed sweep job $j2b and add-workers $a2 end within 300 s" wait_gone 300 "$j2b" "$a2"
check "resumed sweep job $j2b completed with status 0" completed_ok "$j2b"
check "slurm-$j2b.out says it resumes" grep -q 'resuming the sweep' "slurm-$j2b.out"
check "add-workers job $a2 completed with status 0" completed_ok "$a2"
check "... after joining both coordinators" test "$(grep -c 'adding one node worker with 1 compute processes' "slurm-$a2.out")" -eq 2
check "coordinator.log holds the first job's lines (appended)" grep -q "=== job $j2 " "$out2/logs/coordinator.log"
check "... and the resumed job's" grep -q "=== job $j2b " "$out2/logs/coordinator.log"
[[ -f $out2/table.json ]] && printf '%s\n' "$out2" >>"$work/complete.txt"

# --- 3. the time limit's USR1, and a resume ------------------------------------------------

say "3. USR1 (time limit near) with DLSWEEP_MAX_REQUEUES=0, resume by hand"
# A real time limit: a one-minute add-workers job waiting for a coordinator gets the USR1 of
# its #SBATCH --signal=B:USR1@60 line at Slurm's next time-limit check (within 30 s).
t3=$(submit --time=1 --nodes=1 --ntasks-per-node=1 "$add" nowhere)
j3=$(DLSWEEP_MAX_REQUEUES=0 submit --nodes=2 --ntasks-per-node=1 "$sweep" sweep.yaml)
out3=$work/dlsweep-runs/$j3
check "sweep job $j3 records 8 results" wait_recorded "$out3" 8
# What --signal=B:USR1@120 does two minutes before the time limit.
scancel --batch --signal=USR1 "$j3"
check "job $j3 ends within 60 s of USR1" wait_gone 60 "$j3"
check "workers handed their tasks back on USR1" handed_back "$out3"/logs/worker-*.log
check "slurm-$j3.out says the time limit is near" grep -q 'time limit near (USR1)' "slurm-$j3.out"
check "partial table saved" test -s "dlsweep-$j3.partial-table.md" -a -s "dlsweep-$j3.partial-table.csv"
check "... not requeued, at DLSWEEP_MAX_REQUEUES=0" grep -q 'not requeueing: this job has been requeued 0 times (DLSWEEP_MAX_REQUEUES=0)' "slurm-$j3.out"
check "... and says how to resume" grep -q "to resume it: cd .* && DLSWEEP_OUT=$out3 sbatch" "slurm-$j3.out"
j3b=$(DLSWEEP_OUT=$out3 submit --nodes=2 --ntasks-per-node=1 "$sweep" sweep.yaml)
check "resumed sweep job $j3b ends within 300 s" wait_gone 300 "$j3b"
check "resumed sweep job $j3b completed with status 0" completed_ok "$j3b"
check "one-minute add-workers job $t3 ends within 90 s" wait_gone 90 "$t3"
check "... on the USR1 its --signal line asks for" grep -q 'time limit near (USR1)' "slurm-$t3.out"
check "... with status 0" completed_ok "$t3"
[[ -f $out3/table.json ]] && printf '%s\n' "$out3" >>"$work/complete.txt"

# --- 4. requeued by itself near the time limit, and by Slurm on preemption ----------------

say "4. USR1 (time limit near): the job requeues itself; preempted: Slurm requeues it"
restarts() { scontrol -o show job "$1" | grep -o 'Restarts=[0-9]*' | head -n 1 | cut -d= -f2; }
t4=$(submit --nodes=1 --ntasks-per-node=2 --nodelist=n1 "$sweep" sweep.yaml)
p4=$(submit --nodes=1 --ntasks-per-node=2 --nodelist=n2 "$sweep" sweep.yaml)
out4t=$work/dlsweep-runs/$t4
out4p=$work/dlsweep-runs/$p4
check "sweep job $t4 records 8 results" wait_recorded "$out4t" 8
scancel --batch --signal=USR1 "$t4"
check "sweep job $p4 records 8 results" wait_recorded "$out4p" 8
# A job of the higher-tier partition that needs n2's two CPUs: p4 is preempted and requeued.
u4=$(submit --partition=urgent --nodelist=n2 --ntasks=2 --output=urgent-%j.out --wrap 'sleep 3')
check "urgent job $u4 runs and ends within 120 s" wait_gone 120 "$u4"
check "... with status 0" completed_ok "$u4"
check "jobs $t4 and $p4 end within 300 s" wait_gone 300 "$t4" "$p4"
check "job $t4 requeued itself on USR1" grep -q 'requeueing this job (requeue 1 of at most 10)' "slurm-$t4.out"
check "... its workers handed their tasks back" handed_back "$out4t"/logs/worker-*.log
check "... it was started again (Restarts=1)" test "$(restarts "$t4")" = 1
check "... resumed the sweep" grep -q 'start 2 of job' "slurm-$t4.out"
check "... and completed with status 0" completed_ok "$t4"
check "job $p4 was preempted" grep -q 'DUE TO PREEMPTION' "slurm-$p4.out"
check "... stopped cleanly on Slurm's SIGTERM" grep -q 'cancelled or preempted (TERM)' "slurm-$p4.out"
check "... was started again by Slurm (Restarts=1)" test "$(restarts "$p4")" = 1
check "... resumed the sweep" grep -q 'start 2 of job' "slurm-$p4.out"
check "... and completed with status 0" completed_ok "$p4"
[[ -f $out4t/table.json ]] && printf '%s\n' "$out4t" >>"$work/complete.txt"
[[ -f $out4p/table.json ]] && printf '%s\n' "$out4p" >>"$work/complete.txt"

# --- 5. a heterogeneous job, requeued ------------------------------------------------------

say "5. heterogeneous job: coordinator on n1, workers on n2; USR1 mid-sweep"
h5=$(submit --nodes=1 --ntasks-per-node=1 --nodelist=n1 : --nodes=1 --ntasks-per-node=2 --nodelist=n2 "$sweep" sweep.yaml)
out5=$work/dlsweep-runs/$h5
check "heterogeneous sweep job $h5 records 8 results" wait_recorded "$out5" 8
scancel --batch --signal=USR1 "$h5"
check "job $h5 ends within 300 s" wait_gone 300 "$h5"
check "... its workers ran on the second component only" grep -q 'workers: one node worker with 2 compute processes on each node of n2,' "slurm-$h5.out"
check "... it requeued itself on USR1 and resumed" grep -q 'start 2 of job' "slurm-$h5.out"
check "... and completed with status 0" completed_ok "$h5"
[[ -f $out5/table.json ]] && printf '%s\n' "$out5" >>"$work/complete.txt"

say "worker and coordinator lines showing tasks handed back:"
grep -H -e 'handed back' -e 'back in the queue' "$out1"/logs/add-*.log "$out1/logs/coordinator.log" \
    "$out2"/logs/worker-*.log "$out3"/logs/worker-*.log | sed "s|^$work/||" || true

walkthrough_verdict slurm-*.out
