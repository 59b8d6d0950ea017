#!/bin/bash
# The coordinator of one dlsweep sweep as a Grid Engine job. Its workers are
# workers.sh jobs (an array job, one task per host) that follow the results folder:
# they join when the coordinator runs, wait when it is gone, leave when the sweep is
# complete. submit.sh submits both.
#
#   qsub [-l h_rt=4:00:00,s_rt=3:58:00] cluster/gridengine/sweep.sh CONFIG.yaml [EXTRA COORDINATOR ARGS...]
#
# Settings, as environment variables at submission (the job gets your environment, -V):
#   DLSWEEP          the dlsweep binary      (default: $SGE_O_WORKDIR/.build/release/dlsweep)
#   DLSWEEP_OUT      results folder, on storage every host sees
#                                            (default: $SGE_O_WORKDIR/dlsweep-runs/$JOB_ID)
#   DLSWEEP_CURVE    1: encrypt and authenticate with CURVE keys made in $DLSWEEP_OUT/keys (default 1)
#   DLSWEEP_PORT     coordinator port (default: a free one, picked when the coordinator binds)
#   DLSWEEP_COORD_HOST   host name or address workers connect to (default: this host's name)
#
# While the coordinator runs, $DLSWEEP_OUT/connect.address holds tcp://HOST:PORT and
# job=<this job's id>; when it ends, $DLSWEEP_OUT/coordinator.finished holds status=N
# (0: the sweep is complete) or status=interrupted (...). At the end the table is
# printed and copied as dlsweep-<jobid>.table.md / .csv into the submission folder.
#
# Stopping and resuming: qdel (with -notify, set below, the job gets SIGUSR2 the queue's
# notify time before SIGKILL) or the soft time limit (-l s_rt, SIGUSR1): the coordinator
# stops (the workers wait for a resume), the partial table is saved, and the job prints
# the command that resumes the sweep: the same qsub with DLSWEEP_OUT set to this folder.
# A host that fails: -r y lets Grid Engine run the job again, which resumes. (The job
# does not requeue itself at s_rt: Grid Engine keeps a requeued job's soft-limit state
# and kills it at its next s_rt.)
# Finished tasks are never run again. Exit status: the coordinator's (0 = sweep complete).
#
#$ -S /bin/bash
#$ -N dlsweep
#$ -cwd
#$ -V
#$ -j y
#$ -o dlsweep-$JOB_ID.out
#$ -notify
#$ -r y

set -Euo pipefail

log() { printf '[%s] sweep.sh: %s\n' "$(date -u '+%F %T')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n ${JOB_ID:-} ]] || die "not inside a Grid Engine job; submit with: qsub $0 CONFIG.yaml"
[[ $# -ge 1 ]] || die "usage: qsub sweep.sh CONFIG.yaml [EXTRA COORDINATOR ARGS...]"
submit_dir=${SGE_O_WORKDIR:-$PWD}
cd "$submit_dir" || die "cannot enter the submission folder $submit_dir"
config=$(realpath -- "$1") || die "config '$1' not found"
shift
[[ -f $config ]] || die "config '$config' is not a file"
dlsweep=${DLSWEEP:-$submit_dir/.build/release/dlsweep}
[[ -x $dlsweep ]] || die "dlsweep binary '$dlsweep' is not executable (build: swift build -c release, or set DLSWEEP=/path/to/dlsweep)"
dlsweep=$(realpath -- "$dlsweep")
out=${DLSWEEP_OUT:-$submit_dir/dlsweep-runs/$JOB_ID}
mkdir -p -- "$out/logs" || die "cannot create $out"
out=$(realpath -- "$out")
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# This script's own path is Grid Engine's copy of it: the resume command names the
# launcher submit.sh used (DLSWEEP_LAUNCHER), else the repository's.
launcher=${DLSWEEP_LAUNCHER:-cluster/gridengine/sweep.sh}
resume_command="cd $(printf '%q' "$submit_dir") && DLSWEEP_OUT=$(printf '%q' "$out") qsub <your qsub options> $(printf '%q ' "$launcher" "$config" "$@")"

if command -v flock >/dev/null 2>&1 && [[ -f $out/coordinator.lock ]]; then
    flock --nonblock --conflict-exit-code 75 "$out/coordinator.lock" true 2>/dev/null
    [[ $? -ne 75 ]] || die "$out is in use by another coordinator ($(tr '\n' ' ' <"$out/coordinator.lock")): is a job of this sweep still running (qstat)?"
fi

# "N of M tasks recorded" (the first line of the text table), empty when unknown.
counts() {
    [[ -f $out/results.sqlite ]] || return 0
    "$dlsweep" table "$out" 2>>"$out/logs/table.log" | head -n 1 | sed -n 's/.*: \([0-9]* of [0-9]* tasks recorded\)$/\1/p'
}

[[ ${RESTARTED:-0} == 1 ]] && log "job $JOB_ID started again by Grid Engine (its host failed)"
if [[ -f $out/results.sqlite ]]; then
    log "resuming the sweep in $out ($(counts); finished tasks are not run again)"
else
    log "results in $out"
fi

# --- keys and the coordinator ----------------------------------------------------------

coordinator_args=()
if [[ ${DLSWEEP_CURVE:-1} == 1 ]]; then
    keys=$out/keys
    for name in coordinator worker; do
        [[ -f $keys/$name.key && -f $keys/$name.pub ]] && continue
        (umask 077 && mkdir -p -- "$keys" && cd "$keys" && "$dlsweep" keys generate "$name" --force >/dev/null) ||
            die "could not generate CURVE keys $keys/$name.{key,pub}"
        log "CURVE key pair $keys/$name.{key,pub} generated (folder readable by you only)"
    done
    (umask 077 && mkdir -p -- "$keys/authorized" && cp -- "$keys/worker.pub" "$keys/authorized/worker.pub") ||
        die "could not fill $keys/authorized"
    coordinator_args+=(--curve-key "$keys/coordinator.key" --authorized-keys "$keys/authorized")
else
    log "warning: DLSWEEP_CURVE=0: tasks and results cross the network as plain text, and anyone who can reach the port can join"
fi

rm -f -- "$out/coordinator.finished" "$out/connect.address" "$out/coordinator.address"
printf '=== job %s on %s, %s ===\n' "$JOB_ID" "$(hostname)" "$(date -u '+%F %T')" >>"$out/logs/coordinator.log"
# USR1 and USR2 are Grid Engine's warnings to this script (the soft time limit; qdel and
# suspend with -notify): the coordinator ignores them and is stopped with SIGTERM.
trap '' USR1 USR2
"$dlsweep" coordinator "$config" --bind "tcp://0.0.0.0:${DLSWEEP_PORT:-*}" --out "$out" \
    "${coordinator_args[@]}" "$@" >>"$out/logs/coordinator.out" 2>>"$out/logs/coordinator.log" </dev/null &
coordinator_pid=$!
bound=
for ((i = 0; i < 600; i++)); do
    [[ -s $out/coordinator.address ]] && bound=$(head -n 1 -- "$out/coordinator.address")
    [[ $bound =~ :([0-9]+)$ ]] && break
    kill -0 "$coordinator_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ ! $bound =~ :([0-9]+)$ ]]; then
    kill -TERM "$coordinator_pid" 2>/dev/null
    log "the coordinator did not start; last lines of $out/logs/coordinator.log:"
    tail -n 5 -- "$out/logs/coordinator.log" >&2
    exit 1
fi
address=tcp://${DLSWEEP_COORD_HOST:-$(hostname)}:${BASH_REMATCH[1]}
printf '%s\njob=%s\n' "$address" "$JOB_ID" >"$out/connect.address.tmp" && mv -f -- "$out/connect.address.tmp" "$out/connect.address"
log "coordinator on $(hostname) bound $bound; workers (workers.sh $out) connect to $address"

# --- the end -----------------------------------------------------------------------------

# Copies the table (kind "table") or builds one from the results so far (kind
# "partial-table", with a first line saying how much it covers and why it stopped).
save_table() {
    local kind=$1 why=${2:-} md=$submit_dir/dlsweep-$JOB_ID.$1.md csv=$submit_dir/dlsweep-$JOB_ID.$1.csv
    if [[ $kind == table && -f $out/table.md ]]; then
        cp -- "$out/table.md" "$md" && cp -- "$out/table.csv" "$csv"
    elif [[ -f $out/results.sqlite ]]; then
        if ! { printf 'Partial table of Grid Engine job %s (%s): %s.\n\n' "$JOB_ID" "$why" "$(counts)" &&
            "$dlsweep" table "$out" --format markdown; } >"$md" 2>>"$out/logs/table.log" ||
            ! "$dlsweep" table "$out" --format csv >"$csv" 2>>"$out/logs/table.log"; then
            log "could not build a table from $out/results.sqlite (see $out/logs/table.log)"
            return 1
        fi
    else
        log "no results in $out"
        return 1
    fi
    log "$kind: $md and .csv"
    cat -- "$md"
}

# shellcheck disable=SC2317 # invoked by on_signal
stop_coordinator() {
    kill -TERM "$coordinator_pid" 2>/dev/null
    wait "$coordinator_pid" 2>/dev/null
    rm -f -- "$out/connect.address"
}

# shellcheck disable=SC2317 # invoked by the traps below
on_signal() {
    trap - USR1 USR2 TERM INT
    log "$1: stopping the coordinator (workers wait for a resume), saving the partial table"
    stop_coordinator
    printf 'status=interrupted (%s)\n' "$1" >"$out/coordinator.finished"
    save_table partial-table "$1" || true
    log "the sweep is not complete; to resume it: $resume_command"
    exit 143
}
trap 'on_signal "soft time limit (USR1)"' USR1
trap 'on_signal "deleted (USR2)"' USR2
trap 'on_signal "terminated (TERM)"' TERM
trap 'on_signal "interrupted (INT)"' INT

while kill -0 "$coordinator_pid" 2>/dev/null; do
    # In the background so that the signals are handled at once.
    sleep 1 &
    wait $! || true
done
wait "$coordinator_pid"
status=$?
rm -f -- "$out/connect.address"
printf 'status=%s\n' "$status" >"$out/coordinator.finished"
if ((status == 0)); then
    log "coordinator exited with status 0: the sweep is complete"
    save_table table || status=1
else
    log "coordinator exited with status $status: the sweep is not complete; see $out/logs/coordinator.log"
    save_table partial-table "coordinator exited with status $status" || true
    log "to resume it: $resume_command"
fi
exit "$status"
