#!/usr/bin/env bash
# Starts dlsweep workers on every host of a hosts file, over ssh.
#
# Usage: start-workers.sh HOSTS_FILE COORDINATOR_ADDRESS [WORKERS_PER_HOST|auto] [-- WORKER ARGS...]
#
#   HOSTS_FILE           one host per line (anything ssh accepts: name, user@name,
#                        an alias from ~/.ssh/config), optional workers=N|auto and
#                        dlsweep=/path/to/dlsweep; '#' starts a comment (see hosts.example)
#   COORDINATOR_ADDRESS  tcp://HOST:PORT the workers connect to
#   WORKERS_PER_HOST     default for hosts without workers=: a number, or auto
#                        (physical cores of the host; the default): the compute
#                        processes of the host's node worker, or with
#                        DLSWEEP_NODE_WORKER=0 the worker processes of the host
#   WORKER ARGS          passed to `dlsweep worker`, e.g. -- --curve-key ~/.dlsweep/worker.key
#                        --server-key ~/.dlsweep/coordinator.pub (paths on the remote host)
#
# By default each host runs one node worker (`dlsweep worker --processes N`: one
# connection to the coordinator per host, N single-threaded compute processes);
# DLSWEEP_NODE_WORKER=0 starts N separate workers instead.
# Each worker runs detached (setsid nohup) with OPENBLAS_NUM_THREADS=1 and
# OMP_NUM_THREADS=1, logs to ~/.dlsweep/logs/worker-I.log and has its pid in
# ~/.dlsweep/run/worker-I.pid. Slots whose worker still runs are left alone,
# so running it again only replaces workers that have exited.
# Environment: DLSWEEP_SSH, DLSWEEP_SSH_OPTS, DLSWEEP_STATE_DIR (see lib.sh),
# DLSWEEP_NODE_WORKER (1, the default: one node worker per host; 0: N workers).
# Exit status: 0 when every host has its workers running; 1 when a host failed;
# 2 usage error.
set -Euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: $PROG HOSTS_FILE COORDINATOR_ADDRESS [WORKERS_PER_HOST|auto] [-- WORKER ARGS...]"; }
[[ $# -ge 2 ]] || usage
hosts_file=$1 coordinator=$2
shift 2
default_workers=auto
if [[ $# -gt 0 && $1 != -- ]]; then
    default_workers=$1
    shift
fi
[[ $# -gt 0 && $1 == -- ]] && shift
worker_args=("$@")
[[ $default_workers == auto || $default_workers =~ ^[0-9]+$ ]] || usage
node_worker=${DLSWEEP_NODE_WORKER:-1}
[[ $node_worker == [01] ]] || die "DLSWEEP_NODE_WORKER must be 0 or 1, got '$node_worker'"
[[ $coordinator =~ ^tcp://[^[:space:]/]+:[0-9]+$ ]] ||
    die "coordinator address must look like tcp://HOST:PORT, got '$coordinator'"

start_on() {
    local host=$1 workers=${2:-$default_workers} dlsweep=${3:-dlsweep}
    run_on_host "$host" start "$coordinator" "$workers" "$dlsweep" "$node_worker" "${worker_args[@]}"
}
for_each_host "$hosts_file" start_on
