#!/usr/bin/env bash
# Lists the dlsweep workers started by start-workers.sh on every host of a
# hosts file: slot, pid, running time and the last line of each worker's log.
#
# Usage: list-workers.sh HOSTS_FILE
# Environment: DLSWEEP_SSH, DLSWEEP_SSH_OPTS, DLSWEEP_STATE_DIR (see lib.sh).
# Exit status: 0 when every host answered; 1 otherwise; 2 usage error.
set -Euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || die "usage: $PROG HOSTS_FILE"

list_on() { run_on_host "$1" list; }
for_each_host "$1" list_on
