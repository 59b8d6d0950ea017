#!/usr/bin/env bash
# Stops the dlsweep workers started by start-workers.sh on every host of a
# hosts file: SIGTERM to each worker's process group, then waits for them.
#
# Usage: stop-workers.sh HOSTS_FILE [--timeout SECONDS] [--kill]
#   --timeout SECONDS  how long to wait after SIGTERM (default 30)
#   --kill             SIGKILL what is still running after the wait
# A worker told to stop gives up its task; the coordinator hands that task to
# another worker once the worker's heartbeats stop.
# Environment: DLSWEEP_SSH, DLSWEEP_SSH_OPTS, DLSWEEP_STATE_DIR (see lib.sh).
# Exit status: 0 when no worker is left running; 1 otherwise; 2 usage error.
set -Euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: $PROG HOSTS_FILE [--timeout SECONDS] [--kill]"; }
[[ $# -ge 1 ]] || usage
hosts_file=$1
shift
timeout=30 force=wait
while [[ $# -gt 0 ]]; do
    case $1 in
        --timeout) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; timeout=$2; shift 2 ;;
        --kill) force="kill"; shift ;;
        *) usage ;;
    esac
done

stop_on() { run_on_host "$1" stop "$timeout" "$force"; }
for_each_host "$hosts_file" stop_on
