#!/usr/bin/env bash
# An ssh stand-in that runs the command inside a test-bed host (testbed.sh),
# so the ssh scripts can be tried on one machine:
#   DLSWEEP_SSH=cluster/netns/netns-ssh.sh cluster/ssh/start-workers.sh HOSTS ...
#
# Usage, like ssh: netns-ssh.sh [-o OPTION | -i FILE | -l USER | -p PORT]... HOST COMMAND
#   HOST is h<I> or the host's test-bed address 10.231.0.<I+1>.
# Each host gets its own HOME (${DLSW_NETNS_HOME:-/tmp/dlsw-netns-home}/<id>/h<I>),
# as separate machines would. Honours DLSW_TESTBED_ID like testbed.sh.
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
while [[ $# -gt 0 ]]; do
    case $1 in
        -o | -i | -l | -p | -F | -J) shift 2 ;;
        -[46AaCfGgKkMNnqsTtVvXxYy]*) shift ;;
        *) break ;;
    esac
done
[[ $# -ge 2 ]] || { echo "usage: ${0##*/} [ssh options] HOST COMMAND" >&2; exit 255; }
host=$1
shift
case $host in
    h[0-9]*) index=${host#h} ;;
    10.231.0.*) index=$((${host#10.231.0.} - 1)) ;;
    *) echo "${0##*/}: unknown test-bed host '$host' (use h<I> or 10.231.0.<I+1>)" >&2; exit 255 ;;
esac
[[ $index =~ ^[0-9]+$ ]] || { echo "${0##*/}: bad host '$host'" >&2; exit 255; }
home=${DLSW_NETNS_HOME:-/tmp/dlsw-netns-home}/${DLSW_TESTBED_ID:-default}/h$index
mkdir -p -- "$home"
# ssh hands the remote shell one command line: the arguments joined by spaces.
exec "$here/testbed.sh" exec "$index" env HOME="$home" bash -c "$*"
