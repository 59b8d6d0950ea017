#!/bin/bash
# Workers for a sweep whose coordinator is a sweep.sh job, as a Grid Engine job: one
# task per host (an array job for several hosts), each with its slots of the parallel
# environment.
#
#   qsub -t 1-4 -pe smp 32 cluster/gridengine/workers.sh OUT
#
# OUT is the sweep's results folder (DLSWEEP_OUT of the sweep.sh job, by default
# dlsweep-runs/<its job id> in the folder it was submitted from). Each task follows it:
#   - sweep complete (OUT/coordinator.finished says status=0): exit 0 at once;
#   - a coordinator runs (OUT/connect.address): its workers join; when the address goes
#     away or changes (the coordinator stopped) they are stopped and the task waits again;
#   - no coordinator yet, or the sweep interrupted: wait up to DLSWEEP_ADDRESS_WAIT
#     seconds (default 600) for one (a sweep.sh job requeued, or resubmitted with
#     DLSWEEP_OUT=OUT), then exit 0 (1 if no coordinator ever appeared).
# Workers per task: one node worker feeding $NSLOTS single-threaded compute processes (one
# connection per host), or with DLSWEEP_NODE_WORKER=0 one worker per slot. CURVE keys
# come from OUT/keys when the sweep job made them. Logs: OUT/logs/sge-<job>.<task>-<host>-<n>.log.
# qdel (SIGUSR2 with -notify) or the soft time limit (-l s_rt, SIGUSR1): the workers get
# SIGTERM and hand their tasks back to the coordinator.
# Environment: DLSWEEP (binary, default $SGE_O_WORKDIR/.build/release/dlsweep),
# DLSWEEP_WORKER_ARGS (extra worker arguments, split on spaces), DLSWEEP_ADDRESS_WAIT,
# DLSWEEP_NODE_WORKER.
#
#$ -S /bin/bash
#$ -N dlsweep-workers
#$ -cwd
#$ -V
#$ -j y
#$ -o dlsweep-workers-$JOB_ID.$TASK_ID.out
#$ -notify
#$ -r y

set -Euo pipefail

log() { printf '[%s] workers.sh: %s\n' "$(date -u '+%F %T')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n ${JOB_ID:-} ]] || die "not inside a Grid Engine job; submit with: qsub $0 OUT"
out=${1:-${DLSWEEP_OUT:-}}
[[ -n $out ]] || die "usage: qsub workers.sh OUT   (the sweep's results folder)"
submit_dir=${SGE_O_WORKDIR:-$PWD}
cd "$submit_dir" || die "cannot enter the submission folder $submit_dir"
out=$(realpath -m -- "$out")
dlsweep=${DLSWEEP:-$submit_dir/.build/release/dlsweep}
[[ -x $dlsweep ]] || die "dlsweep binary '$dlsweep' is not executable (set DLSWEEP=/path/to/dlsweep)"
address_wait=${DLSWEEP_ADDRESS_WAIT:-600}
[[ $address_wait =~ ^[0-9]+$ ]] || die "DLSWEEP_ADDRESS_WAIT must be a number of seconds, got '$address_wait'"
node_worker=${DLSWEEP_NODE_WORKER:-1}
[[ $node_worker == [01] ]] || die "DLSWEEP_NODE_WORKER must be 0 or 1, got '$node_worker'"
slots=${NSLOTS:-1}
read -r -a extra_worker_args <<<"${DLSWEEP_WORKER_ARGS:-}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
task=${SGE_TASK_ID:-undefined}
[[ $task == undefined ]] && task=1
name=sge-$JOB_ID.$task-$(hostname -s)

# Prints one of: done | interrupted | none | running ADDRESS
sweep_state() {
    if [[ -f $out/coordinator.finished ]]; then
        if grep -qx 'status=0' -- "$out/coordinator.finished"; then echo 'done'; else echo interrupted; fi
    elif [[ -s $out/connect.address ]]; then
        echo "running $(head -n 1 -- "$out/connect.address")"
    else
        echo none
    fi
}

pids=()
any_alive() {
    local pid
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}
stop_workers() {
    any_alive || { pids=(); return 0; }
    log "stopping the workers with SIGTERM: they hand their tasks back"
    kill -TERM "${pids[@]}" 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
        any_alive || break
        sleep 0.2
    done
    kill -KILL "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    pids=()
    return 0
}

# shellcheck disable=SC2317 # invoked by the traps below
on_signal() {
    trap - USR1 USR2 TERM INT
    log "$1"
    stop_workers
    exit 0
}
on_usr1() { on_signal "soft time limit (USR1)"; }
on_usr2() { on_signal "deleted (USR2)"; }
trap on_usr1 USR1
trap on_usr2 USR2
trap 'on_signal "terminated (TERM)"' TERM
trap 'on_signal "interrupted (INT)"' INT

# Runs this task's workers against $1 until they exit or the coordinator is gone.
run_workers() {
    local address=$1 worker_args=(--threads 1) n count=$slots
    if [[ -f $out/keys/worker.key && -f $out/keys/coordinator.pub ]]; then
        worker_args+=(--curve-key "$out/keys/worker.key" --server-key "$out/keys/coordinator.pub")
    fi
    if [[ $node_worker == 1 ]]; then
        worker_args+=(--processes "$slots")
        count=1
    fi
    worker_args+=(--reconnect-timeout "$address_wait" "${extra_worker_args[@]}")
    if [[ $node_worker == 1 ]]; then
        log "starting a node worker with $slots compute processes on $(hostname) for $address; log in $out/logs/$name-1.log"
    else
        log "starting $count workers on $(hostname) ($slots slots) for $address; logs in $out/logs/$name-N.log"
    fi
    # The workers ignore Grid Engine's warning signals (USR1, USR2); this script stops them.
    trap '' USR1 USR2
    for ((n = 1; n <= count; n++)); do
        "$dlsweep" worker --connect "$address" --name "$name-$n" "${worker_args[@]}" \
            >>"$out/logs/$name-$n.log" 2>&1 </dev/null &
        pids+=($!)
    done
    trap on_usr1 USR1
    trap on_usr2 USR2
    while any_alive; do
        sleep 1 &
        wait $! || true
        if [[ $(sweep_state) != "running $address" ]]; then
            log "the coordinator at $address is gone: stopping the workers"
            stop_workers
            return 0
        fi
    done
    wait "${pids[@]}" 2>/dev/null
    log "the workers exited"
    pids=()
}

log "job $JOB_ID task $task on $(hostname): workers for the sweep in $out"
waiting_since=$SECONDS
joined=no
last_state=
while :; do
    state=$(sweep_state)
    read -r kind detail <<<"$state"
    case $kind in
        done) log "the sweep in $out is complete: nothing (more) to do"; exit 0 ;;
        running)
            run_workers "$detail"
            joined=yes
            # Workers leave on the coordinator's word a moment before sweep.sh records why.
            for ((i = 0; i < 30; i++)); do
                [[ $(sweep_state) == "running $detail" ]] || break
                sleep 1
            done
            [[ $(sweep_state) == "running $detail" ]] && die "the workers exited while the coordinator at $detail still runs; see $out/logs/$name-*.log"
            waiting_since=$SECONDS
            last_state=
            continue ;;
    esac
    if [[ $state != "$last_state" ]]; then
        case $kind in
            interrupted) log "the sweep was interrupted ($(head -n 1 -- "$out/coordinator.finished")); waiting up to ${address_wait}s for a coordinator to resume it" ;;
            none) log "no coordinator yet (no $out/connect.address); waiting up to ${address_wait}s" ;;
        esac
        last_state=$state
    fi
    if ((SECONDS - waiting_since >= address_wait)); then
        [[ $joined == no && $kind == none ]] && die "no $out/connect.address after ${address_wait}s: is the sweep.sh job running with this DLSWEEP_OUT, and is $out on storage this host sees?"
        log "no coordinator came back within ${address_wait}s: nothing to do"
        exit 0
    fi
    sleep 1 &
    wait $! || true
done
