# shellcheck shell=bash
# What the schedulers' test beds (slurm/testbed.sh, gridengine/testbed.sh) share: their
# command line (install | up DIR | down DIR | run DIR CMD... | selftest), daemons started
# in the foreground with every signal unblocked and stopped by pid, waiting on a
# condition, and the self-test's checks. Sourced, not run.
#
# The sourcing script sets PROG and ROOT_REASON (why it needs root) and defines usage,
# cmd_install, cmd_up DIR, cmd_down DIR, cmd_selftest and with_environment DIR CMD...
# (runs CMD with the test bed's environment, e.g. SLURM_CONF), and for the self-test
# daemons_of DIR (the pids of the test bed's daemons).
# shellcheck disable=SC2154 # PROG and ROOT_REASON are the sourcing script's

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n' "$PROG" "$*" >&2; usage >&2; exit 2; }
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# Starts CMD... (a daemon in its foreground flavour) in the background from DIR/log, its
# output appended to DIR/log/NAME.stderr and its pid in DIR/run/NAME.bg.pid (the file
# stop_daemons reads). The daemon gets every signal unblocked and at its default: a
# caller may have blocked them (the threads of a dispatch-based test runner do, and
# children inherit the mask), and a daemon with a blocked SIGTERM never sees `down`'s.
# Bash cannot unblock signals; python3 can.
start_daemon() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir/log" && exec python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(number, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
' "$@") >>"$dir/log/$name.stderr" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$dir/run/$name.bg.pid"
}

daemon_alive() {
    local file=$1/run/$2.bg.pid pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    kill -0 "$pid" 2>/dev/null
}

# Runs CMD... every 0.1 s until it succeeds, for up to SECONDS; the last try's status.
wait_until() {
    local seconds=$1 i
    shift
    for ((i = 0; i < seconds * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

# SIGTERM to the daemons named (by the pid files start_daemon wrote), then up to 20 s for
# them to exit, then SIGKILL.
stop_daemons() {
    local dir=$1 name file pid i pids=()
    shift
    for name in "$@"; do
        file=$dir/run/$name.bg.pid
        [[ -f $file ]] || continue
        pid=$(<"$file")
        rm -f -- "$file"
        [[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    ((${#pids[@]})) || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "${pids[@]}" 2>/dev/null || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && { note "pid $pid ignored SIGTERM for 20 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
    done
    return 0
}

# Free TCP ports on 127.0.0.1 a moment ago, $1 of them (held together so they differ).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

# up, CMD... with the test bed's environment, down (also on failure or signal); CMD's status.
run_dir=
cmd_run() {
    local status=0
    mkdir -p -- "$1"
    run_dir=$(realpath -- "$1")
    shift
    trap 'cmd_down "$run_dir"' EXIT
    trap 'exit 130' INT TERM
    cmd_up "$run_dir" >/dev/null
    with_environment "$run_dir" "$@" || status=$?
    return "$status"
}

# The self-test's fresh test bed: a new folder (everything in it stopped and removed at
# exit), up. $1 names the folder, $2 the scheduler.
selftest_dir=
selftest_up() {
    selftest_dir=$(mktemp -d "${TMPDIR:-/tmp}/dlsweep-$1-testbed.XXXXXX")
    trap 'cmd_down "$selftest_dir"; rm -rf -- "$selftest_dir"' EXIT
    trap 'exit 130' INT TERM
    printf 'selftest: %s test bed in %s\n' "$2" "$selftest_dir"
    cmd_up "$selftest_dir" >/dev/null
}

# The self-test's end: its daemons run, and down stops every one; PASS or FAIL.
selftest_down() {
    check "daemons running before down" test -n "$(daemons_of "$selftest_dir")"
    cmd_down "$selftest_dir"
    check "down stopped every daemon" test -z "$(daemons_of "$selftest_dir")"
    selftest_verdict
}

# The self-test's checks: one line each, failures counted.
failures=0
check() {
    local what=$1
    shift
    if "$@"; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; failures=$((failures + 1)); fi
}
selftest_verdict() {
    if ((failures == 0)); then printf 'PASS\n'; else printf 'FAIL (%d checks)\n' "$failures"; return 1; fi
}

testbed_main() {
    local command=${1:-}
    [[ -n $command ]] || usage_error "missing command"
    shift
    case $command in
        -h | --help | help) usage; return 0 ;;
    esac
    [[ $(id -u) -eq 0 ]] || { note "must run as root ($ROOT_REASON); try: sudo $0 $command"; exit 3; }
    case $command in
        install) [[ $# -eq 0 ]] || usage_error "install takes no argument"; cmd_install ;;
        up) [[ $# -eq 1 ]] || usage_error "up needs a folder"; cmd_up "$1" ;;
        down) [[ $# -eq 1 ]] || usage_error "down needs a folder"; cmd_down "$(realpath -- "$1")" ;;
        run) [[ $# -ge 2 ]] || usage_error "run needs a folder and a command"; cmd_run "$@" ;;
        selftest) [[ $# -eq 0 ]] || usage_error "selftest takes no argument"; cmd_selftest ;;
        *) usage_error "unknown command '$command'" ;;
    esac
}
