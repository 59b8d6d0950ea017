#!/usr/bin/env bash
# Submits a dlsweep sweep to Grid Engine: the coordinator (sweep.sh, one slot) and its
# workers (workers.sh, an array job of DLSWEEP_WORKER_JOBS tasks, each DLSWEEP_SLOTS
# slots of the parallel environment DLSWEEP_PE on one host).
#
#   cluster/gridengine/submit.sh CONFIG.yaml [EXTRA COORDINATOR ARGS...]
#
# Run it from the folder the jobs should work in (the repository, by default: the
# binary is .build/release/dlsweep there). Environment:
#   DLSWEEP_WORKER_JOBS  worker array tasks, one per host (default 2; 0: no workers, e.g.
#                        to resume a sweep whose workers still wait)
#   DLSWEEP_SLOTS        slots per worker task = workers per host (default 1)
#   DLSWEEP_PE           parallel environment whose allocation keeps slots on one host
#                        ($pe_slots), as qconf -sp shows (default smp)
#   DLSWEEP_QSUB_ARGS    more qsub options for both, split on spaces
#                        (e.g. "-q all.q -P myproject -l h_rt=4:00:00,s_rt=3:58:00")
#   DLSWEEP_OUT          results folder (default: dlsweep-runs/<coordinator job id>);
#                        an existing one resumes its sweep
# and those of sweep.sh and workers.sh (DLSWEEP, DLSWEEP_CURVE, DLSWEEP_WORKER_ARGS, ...),
# which the jobs receive (qsub -V).
# Prints the job ids and the commands to watch them. When qsub fails (no qmaster, a
# queue or environment that does not exist), says which command failed and what it
# answered; a coordinator already submitted is left running (nothing is lost) and the
# command that adds its workers is printed.
# Exit status: 0 both submitted, 1 a qsub failed, 2 usage.
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'submit.sh: %s\n' "$*" >&2; }

[[ $# -ge 1 && $1 != -* ]] || { echo "usage: submit.sh CONFIG.yaml [EXTRA COORDINATOR ARGS...]" >&2; exit 2; }
[[ -f $1 ]] || { log "config '$1' not found"; exit 2; }
worker_jobs=${DLSWEEP_WORKER_JOBS:-2}
slots=${DLSWEEP_SLOTS:-1}
pe=${DLSWEEP_PE:-smp}
[[ $worker_jobs =~ ^[0-9]+$ ]] || { log "DLSWEEP_WORKER_JOBS must be a whole number, got '$worker_jobs'"; exit 2; }
[[ $slots =~ ^[1-9][0-9]*$ ]] || { log "DLSWEEP_SLOTS must be a positive number, got '$slots'"; exit 2; }
read -r -a qsub_args <<<"${DLSWEEP_QSUB_ARGS:-}"
command -v qsub >/dev/null 2>&1 || { log "qsub not found: is Grid Engine's client on PATH (e.g. . \$SGE_ROOT/default/common/settings.sh)?"; exit 1; }

# Runs qsub "$@" and prints the job id; on failure says what failed and what qsub said.
submit() {
    local output status=0
    output=$(qsub -terse "$@" 2>&1) || status=$?
    if ((status != 0)) || [[ ! ${output%%$'\n'*} =~ ^[0-9]+ ]]; then
        log "'qsub -terse $*' failed (status $status): ${output:-no message}"
        return 1
    fi
    # Array jobs print ID.FIRST-LAST:STEP.
    printf '%s\n' "${BASH_REMATCH[0]}"
}

# The jobs get this environment (qsub -V): sweep.sh names itself by this path in the
# resume command it prints (its own path is Grid Engine's copy).
export DLSWEEP_LAUNCHER=$here/sweep.sh
coordinator=$(submit "${qsub_args[@]}" "$here/sweep.sh" "$@") || {
    log "nothing was submitted; nothing ran"
    exit 1
}
out=${DLSWEEP_OUT:-$PWD/dlsweep-runs/$coordinator}
log "coordinator: job $coordinator (log dlsweep-$coordinator.out; results in $out)"
if ((worker_jobs > 0)); then
    workers=(-t "1-$worker_jobs" -pe "$pe" "$slots" "${qsub_args[@]}" "$here/workers.sh" "$out")
    if ! array=$(submit "${workers[@]}"); then
        log "the coordinator (job $coordinator) was submitted and keeps its results in $out;"
        log "add its workers once qsub works again: qsub ${workers[*]}"
        exit 1
    fi
    log "workers: array job $array, $worker_jobs task(s) of $slots slot(s) (logs dlsweep-workers-$array.<task>.out, $out/logs/sge-*.log)"
fi
log "watch: qstat; tail -f dlsweep-$coordinator.out; dlsweep table $out"
printf '%s\n' "$coordinator"
