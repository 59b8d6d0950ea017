#!/usr/bin/env bash
# Shared by start-workers.sh, list-workers.sh and stop-workers.sh: hosts-file
# parsing, the script each host runs, and running it on every host at once.
# Not meant to be run by itself.
#
# Environment understood by all three:
#   DLSWEEP_SSH        ssh command (default: ssh)
#   DLSWEEP_SSH_OPTS   extra ssh options, split on spaces (e.g. "-i ~/.ssh/cluster -l me")
#   DLSWEEP_STATE_DIR  state folder on each host, relative to the remote home
#                      (default: .dlsweep; logs in <it>/logs, pid files in <it>/run)

PROG=${0##*/}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 2; }

# Prints "host<TAB>workers<TAB>dlsweep" for each host line of FILE.
# workers is a count, "auto" or "-" (use the default); dlsweep is "-" for
# the default ("dlsweep" on the remote PATH). ("-", not empty: read would
# merge two tabs.)
parse_hosts() {
    local file=$1 line lineno=0 host word workers dlsweep
    [[ -r $file ]] || die "hosts file '$file' is not readable"
    while IFS= read -r line || [[ -n $line ]]; do
        lineno=$((lineno + 1))
        line=${line%%#*}
        read -r -a words <<<"$line"
        ((${#words[@]} == 0)) && continue
        host=${words[0]}
        workers=
        dlsweep=
        for word in "${words[@]:1}"; do
            case $word in
                workers=auto) workers=auto ;;
                workers=*)
                    workers=${word#workers=}
                    [[ $workers =~ ^[0-9]+$ ]] || die "$file:$lineno: workers= must be a number or auto, got '$workers'" ;;
                dlsweep=*)
                    dlsweep=${word#dlsweep=}
                    [[ -n $dlsweep ]] || die "$file:$lineno: empty dlsweep=" ;;
                *) die "$file:$lineno: unknown setting '$word' (expected workers=N|auto or dlsweep=/path)" ;;
            esac
        done
        printf '%s\t%s\t%s\n' "$host" "${workers:--}" "${dlsweep:--}"
    done <"$file"
}

# The script each host runs under `bash -s -- ACTION ARGS...`. It keeps one
# pid file per worker slot; a pid counts as a live worker only if that process
# is still a `dlsweep ... worker` (pid files outlive reboots and pids are reused).
# shellcheck disable=SC2016 # expanded on the remote host
# No `set -u` there: bash before 4.4 (still on some hosts) calls an empty "${a[@]}" unbound.
REMOTE_SCRIPT='
state=${DLSWEEP_STATE_DIR:-.dlsweep}
case $state in /*) ;; *) state=$HOME/$state ;; esac
run=$state/run
logs=$state/logs
mkdir -p "$run" "$logs" || { echo "cannot create $state"; exit 1; }

is_worker() {
    local args
    args=$(ps -o args= -p "$1" 2>/dev/null) || return 1
    [[ $args == *dlsweep* && $args == *" worker "* ]]
}
slot_pid() {
    local pid
    [[ -f $run/worker-$1.pid ]] || return 1
    read -r pid <"$run/worker-$1.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] && is_worker "$pid" && printf "%s" "$pid"
}
slots() {
    local f
    for f in "$run"/worker-*.pid; do
        [[ -e $f ]] || continue
        f=${f##*/worker-}
        printf "%s\n" "${f%.pid}"
    done | sort -n
}
cores() {
    local physical logical
    logical=$(nproc 2>/dev/null || echo 1)
    physical=$(lscpu -p=Core,Socket 2>/dev/null | grep -v "^#" | sort -u | wc -l)
    if [[ $physical -ge 1 && $physical -lt $logical ]]; then echo "$physical"; else echo "$logical"; fi
}

action=$1
shift
case $action in
start)
    coordinator=$1 count=$2 dlsweep=$3 node_worker=$4
    shift 4
    [[ $count == auto ]] && count=$(cores)
    # One node worker (slot 0) feeding $count compute processes, or $count workers.
    processes=()
    if [[ $node_worker == 1 ]]; then
        processes=(--processes "$count")
        count=1
    fi
    # A quoted "~/..." in the worker arguments means the home folder here.
    args=()
    for arg in "$@"; do
        case $arg in "~/"*) arg=$HOME/${arg#"~/"} ;; esac
        args+=("$arg")
    done
    set -- "${args[@]}"
    if ! command -v "$dlsweep" >/dev/null 2>&1; then
        echo "dlsweep binary \"$dlsweep\" not found or not executable"
        exit 1
    fi
    started=0 running=0
    for ((i = 0; i < count; i++)); do
        if pid=$(slot_pid "$i"); then
            running=$((running + 1))
            continue
        fi
        log=$logs/worker-$i.log
        printf "=== %s start: %s worker --connect %s\n" "$(date -u "+%F %T")" "$dlsweep" "$coordinator" >>"$log"
        OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
            setsid nohup "$dlsweep" worker --connect "$coordinator" --threads 1 "${processes[@]}" "$@" >>"$log" 2>&1 </dev/null &
        echo "$!" >"$run/worker-$i.pid"
        started=$((started + 1))
    done
    sleep 1
    failed=0
    for ((i = 0; i < count; i++)); do
        slot_pid "$i" >/dev/null || { failed=$((failed + 1)); echo "worker $i exited at once: $(tail -n 1 "$logs/worker-$i.log")"; }
    done
    if [[ $node_worker == 1 ]]; then
        echo "started $started, already running $running, wanted 1 node worker (${processes[1]} compute processes), logs in $logs"
    else
        echo "started $started, already running $running, wanted $count, logs in $logs"
    fi
    [[ $failed -eq 0 ]]
    ;;
list)
    alive=0
    for i in $(slots); do
        if pid=$(slot_pid "$i"); then
            alive=$((alive + 1))
            printf "worker %-3s pid %-8s running %-12s %s\n" "$i" "$pid" "$(ps -o etime= -p "$pid" | tr -d " ")" \
                "$(tail -n 1 "$logs/worker-$i.log" 2>/dev/null | cut -c1-100)"
        else
            printf "worker %-3s exited: %s\n" "$i" "$(tail -n 1 "$logs/worker-$i.log" 2>/dev/null | cut -c1-100)"
        fi
    done
    echo "$alive running"
    ;;
stop)
    timeout=$1 force=$2
    pids=()
    for i in $(slots); do
        if pid=$(slot_pid "$i"); then
            # The worker leads its own session (setsid): signal the group.
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
            pids+=("$pid")
        fi
    done
    waited=0
    while :; do
        left=()
        for pid in "${pids[@]}"; do is_worker "$pid" && left+=("$pid"); done
        [[ ${#left[@]} -eq 0 || $waited -ge $((timeout * 5)) ]] && break
        sleep 0.2
        waited=$((waited + 1))
    done
    if [[ ${#left[@]} -gt 0 && $force == kill ]]; then
        for pid in "${left[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; done
        sleep 0.5
        left=()
        for pid in "${pids[@]}"; do is_worker "$pid" && left+=("$pid"); done
    fi
    for i in $(slots); do slot_pid "$i" >/dev/null || rm -f "$run/worker-$i.pid"; done
    echo "stopped $((${#pids[@]} - ${#left[@]})) of ${#pids[@]}${left[*]:+; still running: ${left[*]}}"
    [[ ${#left[@]} -eq 0 ]]
    ;;
*) echo "unknown action $action"; exit 2 ;;
esac
'

# run_on_host HOST ARGS...: runs REMOTE_SCRIPT on HOST with ARGS, output
# prefixed with the host name.
run_on_host() {
    local host=$1 quoted=() arg ssh_cmd ssh_opts
    shift
    read -r -a ssh_cmd <<<"${DLSWEEP_SSH:-ssh}"
    read -r -a ssh_opts <<<"${DLSWEEP_SSH_OPTS:-}"
    # ssh joins its arguments into one remote shell command line: quote each.
    for arg in "$@"; do quoted+=("$(printf '%q' "$arg")"); done
    local state
    state=$(printf '%q' "${DLSWEEP_STATE_DIR:-.dlsweep}")
    "${ssh_cmd[@]}" -o BatchMode=yes -o ConnectTimeout=15 "${ssh_opts[@]}" "$host" \
        "DLSWEEP_STATE_DIR=$state bash -s -- ${quoted[*]}" <<<"$REMOTE_SCRIPT" 2>&1 |
        sed -u "s|^|$host: |"
    return "${PIPESTATUS[0]}"
}

# for_each_host FILE FUNCTION: runs FUNCTION HOST WORKERS DLSWEEP for every
# host in parallel; returns the number of hosts where it failed (capped at 1).
for_each_host() {
    local file=$1 fn=$2 host workers dlsweep failed=0 pid hosts
    local -A pids=()
    hosts=$(parse_hosts "$file") || exit 2
    while IFS=$'\t' read -r host workers dlsweep; do
        [[ -n $host ]] || continue
        [[ $workers == - ]] && workers=
        [[ $dlsweep == - ]] && dlsweep=
        "$fn" "$host" "$workers" "$dlsweep" &
        pids[$host]=$!
    done <<<"$hosts"
    ((${#pids[@]} > 0)) || die "no hosts in '$file'"
    for host in "${!pids[@]}"; do
        pid=${pids[$host]}
        if ! wait "$pid"; then
            failed=$((failed + 1))
            printf '%s: FAILED\n' "$host" >&2
        fi
    done
    printf '%s: %d hosts, %d failed\n' "$PROG" "${#pids[@]}" "$failed" >&2
    ((failed == 0))
}
