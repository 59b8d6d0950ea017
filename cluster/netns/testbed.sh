#!/usr/bin/env bash
# A multi-host test bed on one Linux machine, built from network namespaces.
#
# Each "host" is a namespace with its own loopback and one veth link ("eth0",
# 10.231.0.(1+i)/24) to a bridge that lives in a namespace of its own, so
# nothing is added to the root namespace and no traffic ever leaves the
# machine. Cutting a host sets both ends of its veth pair down, which is what a
# pulled cable looks like to the processes inside.
#
# Usage: testbed.sh up N | down [--all] | exec I CMD... | cut I | restore I
#                   | addr I | status | selftest
# Environment:
#   DLSW_TESTBED_ID  optional run id (letters, digits, '_', at most 12) that goes
#                    into every namespace name, so parallel or CI runs don't
#                    collide: dlsw-<id>-h0 ... ; without it: dlsw-h0 ...
# Exit status: 0 success, 1 failure (selftest: FAIL), 2 usage error,
#              3 environment (not root, no `ip netns`).
set -Eeuo pipefail

readonly SUBNET=10.231.0
readonly PREFIX_LEN=24
readonly MAX_HOSTS=200
readonly PROG=${0##*/}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n' "$PROG" "$*" >&2; usage >&2; exit 2; }

usage() {
    cat <<EOF
usage: $PROG up N          create hosts 0..N-1 (replaces a test bed with the same id)
       $PROG down [--all]  remove this id's test bed (--all: every dlsw-* namespace); idempotent
       $PROG exec I CMD... run CMD inside host I
       $PROG cut I         take host I's link down (both veth ends)
       $PROG restore I     bring host I's link back up
       $PROG addr I        print host I's IPv4 address
       $PROG status        list hosts, addresses, link states and process counts
       $PROG selftest      build 3 hosts, check reachability, cut and restore; PASS/FAIL
environment: DLSW_TESTBED_ID=<id> puts the id into every namespace name (dlsw-<id>-h0 ...)
EOF
}

# --- naming -----------------------------------------------------------------

testbed_id=${DLSW_TESTBED_ID:-}
if [[ -n $testbed_id && ! $testbed_id =~ ^[A-Za-z0-9_]{1,12}$ ]]; then
    usage_error "DLSW_TESTBED_ID must be 1-12 letters, digits or '_', got '$testbed_id'"
fi
prefix=dlsw-${testbed_id:+$testbed_id-}
bridge_ns=${prefix}br

host_ns() { printf '%sh%s' "$prefix" "$1"; }
host_addr() { printf '%s.%d' "$SUBNET" "$(($1 + 1))"; }
port_name() { printf 'vh%s' "$1"; }
index=

# Host indices of this id's test bed, ascending.
host_indices() {
    local name
    ip netns list 2>/dev/null | while read -r name _; do
        if [[ $name =~ ^${prefix}h([0-9]+)$ ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
        fi
    done | sort -n
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"; }

# Checks a host index and sets `index` (not for $(...): it must be able to exit).
parse_index() {
    index=${1:-}
    [[ $index =~ ^[0-9]{1,3}$ ]] || usage_error "host index must be a number, got '${index}'"
    index=$((10#$index))
    ns_exists "$(host_ns "$index")" || die "no host $index in test bed '${prefix%-}' (run: $PROG up N)"
}

# --- environment checks -----------------------------------------------------

require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        printf '%s: must run as root: network namespaces need CAP_NET_ADMIN (try: sudo %s)\n' \
            "$PROG" "$0" >&2
        exit 3
    fi
    if ! command -v ip >/dev/null 2>&1; then
        printf '%s: the ip command is missing (Debian/Ubuntu: apt-get install iproute2)\n' "$PROG" >&2
        exit 3
    fi
    if ! ip netns list >/dev/null 2>&1; then
        # shellcheck disable=SC2016 # the backticks are literal text
        printf '%s: `ip netns` is unavailable (iproute2 too old, or a kernel/container without network namespaces)\n' \
            "$PROG" >&2
        exit 3
    fi
}

# --- teardown ---------------------------------------------------------------

# Ends the processes still inside a namespace (ones this test bed started),
# by pid: SIGTERM, a short wait, then SIGKILL.
kill_ns_processes() {
    local ns=$1 pids tries
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086 # pids is a whitespace-separated list of numbers
    kill -TERM $pids 2>/dev/null || true
    for tries in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -z $pids ]] && return 0
        sleep 0.2
        : "$tries"
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
}

delete_ns() {
    local ns=$1
    ns_exists "$ns" || return 0
    kill_ns_processes "$ns"
    ip netns delete "$ns" 2>/dev/null || true
}

cmd_down() {
    local all=${1:-} name pattern
    if [[ $all == --all ]]; then
        pattern='^dlsw-'
    elif [[ -n $all ]]; then
        usage_error "down takes no argument but --all, got '$all'"
    else
        pattern="^${prefix}(h[0-9]+|br)$"
    fi
    # Hosts first, then the bridge namespace: deleting a host namespace
    # destroys its veth end and with it the peer on the bridge.
    local names
    names=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "$pattern" | sort -r || true)
    for name in $names; do
        delete_ns "$name"
    done
    local left
    left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "$pattern" || true)
    [[ -z $left ]] || die "could not remove namespaces: $(tr '\n' ' ' <<<"$left")"
}

# --- bring up ---------------------------------------------------------------

cmd_up() {
    local count=${1:-}
    if ! [[ $count =~ ^[0-9]+$ ]] || ((count < 1 || count > MAX_HOSTS)); then
        usage_error "up needs a host count between 1 and $MAX_HOSTS, got '${count}'"
    fi
    cmd_down
    # A failure or interrupt half-way leaves nothing behind.
    trap 'trap - ERR INT TERM; cmd_down || true; die "up failed; partial test bed removed"' ERR INT TERM

    ip netns add "$bridge_ns"
    ip -n "$bridge_ns" link set lo up
    ip -n "$bridge_ns" link add br0 type bridge stp_state 0 forward_delay 0
    ip -n "$bridge_ns" link set br0 up

    local i ns port
    for ((i = 0; i < count; i++)); do
        ns=$(host_ns "$i")
        port=$(port_name "$i")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$bridge_ns" link add "$port" type veth peer name eth0 netns "$ns"
        ip -n "$bridge_ns" link set "$port" master br0
        ip -n "$bridge_ns" link set "$port" up
        ip -n "$ns" addr add "$(host_addr "$i")/$PREFIX_LEN" dev eth0
        ip -n "$ns" link set eth0 up
    done
    trap - ERR INT TERM
    printf 'test bed %s: %d hosts, %s.1-%s.%d/%d\n' "${prefix%-}" "$count" "$SUBNET" "$SUBNET" "$count" "$PREFIX_LEN"
}

# --- per-host commands ------------------------------------------------------

set_link() {
    local index=$1 state=$2
    ip -n "$bridge_ns" link set "$(port_name "$index")" "$state"
    ip -n "$(host_ns "$index")" link set eth0 "$state"
    if [[ $state == up ]]; then
        # Setting eth0 down drops its connected route; up restores it, but the
        # address may need re-adding on kernels that flush it.
        ip -n "$(host_ns "$index")" addr replace "$(host_addr "$index")/$PREFIX_LEN" dev eth0
    fi
}

link_state() {
    local index=$1 state
    state=$(ip -n "$bridge_ns" -o link show "$(port_name "$index")" 2>/dev/null || true)
    if [[ $state == *",UP"* || $state == *"<UP"* ]]; then printf 'up'; else printf 'cut'; fi
}

cmd_status() {
    local indices i ns pids
    indices=$(host_indices)
    if [[ -z $indices ]]; then
        printf 'test bed %s: down\n' "${prefix%-}"
        return 0
    fi
    printf 'test bed %s (bridge namespace %s)\n' "${prefix%-}" "$bridge_ns"
    printf '%-6s %-22s %-14s %-5s %s\n' HOST NAMESPACE ADDRESS LINK PROCESSES
    for i in $indices; do
        ns=$(host_ns "$i")
        pids=$(ip netns pids "$ns" 2>/dev/null | wc -l)
        printf '%-6s %-22s %-14s %-5s %s\n' "h$i" "$ns" "$(host_addr "$i")" "$(link_state "$i")" "$pids"
    done
}

# --- selftest ---------------------------------------------------------------

# Starts a TCP listener inside a host; prints nothing. Uses python3, else nc,
# else socat. The process is ended by `down` (it lives in the namespace).
start_listener() {
    local ns=$1 addr=$2 port=$3
    if command -v python3 >/dev/null 2>&1; then
        ip netns exec "$ns" python3 -m http.server --bind "$addr" "$port" >/dev/null 2>&1 &
    elif command -v nc >/dev/null 2>&1; then
        ip netns exec "$ns" sh -c "while :; do nc -l '$addr' '$port' >/dev/null 2>&1 || nc -l -p '$port' >/dev/null 2>&1; done" &
    elif command -v socat >/dev/null 2>&1; then
        ip netns exec "$ns" socat "TCP-LISTEN:$port,bind=$addr,fork,reuseaddr" /dev/null >/dev/null 2>&1 &
    else
        return 1
    fi
}

# True when a TCP connection from host `from` to addr:port succeeds within 3 s.
reaches() {
    local from=$1 addr=$2 port=$3
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
    ip netns exec "$(host_ns "$from")" timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$addr" "$port" 2>/dev/null
}

cmd_selftest() {
    # Its own id unless one is given, so it never replaces a test bed in use.
    if [[ -z ${DLSW_TESTBED_ID:-} ]]; then
        testbed_id=st$$
        prefix=dlsw-$testbed_id-
        bridge_ns=${prefix}br
    fi
    local failures=0 port=8731 addr i
    addr=$(host_addr 0)
    check() {
        local what=$1
        shift
        if "$@"; then
            printf '  ok    %s\n' "$what"
        else
            printf '  FAIL  %s\n' "$what"
            failures=$((failures + 1))
        fi
    }
    not() { ! "$@"; }

    trap 'cmd_down >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT TERM

    printf 'selftest: test bed %s\n' "${prefix%-}"
    cmd_up 3
    check "3 host namespaces exist" test "$(host_indices | wc -l)" -eq 3
    for i in 0 1 2; do
        # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
        check "h$i has lo up and $(host_addr "$i") on eth0" \
            bash -c 'ip -n "$1" -o link show lo | grep -q "UP" && ip -n "$1" -o addr show dev eth0 | grep -qF " $2/"' \
            _ "$(host_ns "$i")" "$(host_addr "$i")"
    done

    if ! start_listener "$(host_ns 0)" "$addr" "$port"; then
        printf '  FAIL  no python3, nc or socat to listen with\n'
        printf 'FAIL\n'
        return 1
    fi
    # Wait until the listener answers on h0 itself.
    for i in $(seq 1 50); do
        reaches 0 "$addr" "$port" && break
        sleep 0.1
        : "$i"
    done
    check "listener on h0 $addr:$port is up" reaches 0 "$addr" "$port"
    check "h1 reaches h0" reaches 1 "$addr" "$port"
    check "h2 reaches h0" reaches 2 "$addr" "$port"

    cmd_cut 2
    check "h2 link reported cut" test "$(link_state 2)" = cut
    check "h2 no longer reaches h0 after cut" not reaches 2 "$addr" "$port"
    check "h1 still reaches h0 while h2 is cut" reaches 1 "$addr" "$port"

    cmd_restore 2
    check "h2 link reported up" test "$(link_state 2)" = up
    local back=1
    for i in $(seq 1 30); do
        if reaches 2 "$addr" "$port"; then back=0; break; fi
        sleep 0.2
        : "$i"
    done
    check "h2 reaches h0 again after restore" test "$back" -eq 0

    cmd_down
    check "down removed every namespace of the test bed" \
        test -z "$(ip netns list | awk '{print $1}' | grep -E "^${prefix}" || true)"
    trap - EXIT

    if ((failures == 0)); then
        printf 'PASS\n'
    else
        printf 'FAIL (%d checks failed)\n' "$failures"
        return 1
    fi
}

cmd_cut() { parse_index "${1:-}"; set_link "$index" down; }
cmd_restore() { parse_index "${1:-}"; set_link "$index" up; }

# --- main -------------------------------------------------------------------

main() {
    local command=${1:-}
    [[ -n $command ]] || usage_error "missing command"
    shift
    case $command in
        -h | --help | help) usage; return 0 ;;
        addr)
            [[ ${1:-} =~ ^[0-9]{1,3}$ ]] || usage_error "addr needs a host index"
            host_addr "$((10#$1))"; printf '\n'; return 0 ;;
    esac
    require_root
    case $command in
        up) [[ $# -eq 1 ]] || usage_error "up needs exactly one argument (host count)"; cmd_up "$1" ;;
        down) [[ $# -le 1 ]] || usage_error "down takes at most --all"; cmd_down "${1:-}" ;;
        exec)
            [[ $# -ge 2 ]] || usage_error "exec needs a host index and a command"
            parse_index "$1"
            shift
            local ns
            ns=$(host_ns "$index")
            exec ip netns exec "$ns" "$@" ;;
        cut) [[ $# -eq 1 ]] || usage_error "cut needs a host index"; cmd_cut "$1" ;;
        restore) [[ $# -eq 1 ]] || usage_error "restore needs a host index"; cmd_restore "$1" ;;
        status) cmd_status ;;
        selftest) cmd_selftest ;;
        *) usage_error "unknown command '$command'" ;;
    esac
}

main "$@"
