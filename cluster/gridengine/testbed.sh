#!/usr/bin/env bash
# A real Grid Engine on one Linux machine: Debian's Son of Grid Engine (gridengine-master,
# gridengine-exec, gridengine-client), one sge_qmaster and one sge_execd on this host,
# so that qsub, array jobs, parallel environments, qdel and rescheduling behave as on a
# cluster. Everything lives in one folder (its own SGE_ROOT and cell, classic spooling,
# execd spool, logs, pid files); the packages' own cell in /var/lib/gridengine is not
# used and no system service is started. Both daemons listen on ports of their own and
# are stopped by pid.
#
# Usage: testbed.sh install | up DIR | down DIR | run DIR CMD... | selftest
#   install    apt-get install the three packages when missing (root)
#   up DIR     install if needed, make the cell in DIR, start sge_qmaster and sge_execd,
#              add the queue all.q (TESTBED_SLOTS slots on this host) and the parallel
#              environment smp; print the line that sets the environment (. DIR/env.sh)
#   down DIR   delete every job, stop the daemons started in DIR; idempotent
#   run DIR CMD...  up, CMD with DIR/env.sh's environment, down (also on failure or signal);
#              exit status: CMD's
#   selftest   a job and a two-task array job in the smp environment on a fresh test bed
# Environment: TESTBED_SLOTS  slots of the queue (default 4, whatever this machine has)
# Grid Engine resolves host names: the cell's host_aliases file makes this host's name
# and "localhost" one host, and the daemons talk over 127.0.0.1. Jobs run as the user who
# submits them; the test bed lets root submit (min_uid 0), which real clusters do not.
# Exit status: 0 ok, 1 failure, 2 usage, 3 not root or no apt-get.
set -Eeuo pipefail

readonly PROG=${0##*/}
readonly ROOT_REASON="sge_execd starts jobs as their users"
readonly PACKAGES=(gridengine-master gridengine-exec gridengine-client)
readonly SGE_LIB=/var/lib/gridengine
readonly SGE_SHARE=/usr/share/gridengine
# shellcheck source-path=SCRIPTDIR/.. source=testbed-lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../testbed-lib.sh"

usage() {
    cat <<EOF
usage: $PROG install         apt-get install ${PACKAGES[*]} when missing
       $PROG up DIR          a cell in DIR; start sge_qmaster and sge_execd
       $PROG down DIR        delete the jobs, stop the daemons (by pid); idempotent
       $PROG run DIR CMD...  up, CMD with DIR/env.sh's environment, down
       $PROG selftest        a job and an array job on a fresh test bed; PASS/FAIL
environment: TESTBED_SLOTS=<n> slots of the queue (default 4)
EOF
}

# --- install -----------------------------------------------------------------

cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 || { note "no apt-get: install Son of Grid Engine (sge_qmaster, sge_execd, qsub) by hand"; exit 3; }
    note "installing ${missing[*]}"
    # The packages would start system-wide daemons; this test bed runs its own. A
    # policy-rc.d that denies starts is put in place for the install only.
    local policy=/usr/sbin/policy-rc.d added_policy=no status=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || status=$?
    if ((status == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2 || status=$?
    fi
    [[ $added_policy == yes ]] && rm -f -- "$policy"
    ((status == 0)) || die "apt-get install ${PACKAGES[*]} failed (status $status)"
}

# --- the cell ----------------------------------------------------------------------

# The cell's files: SGE_ROOT=DIR/root links the packages' binaries; the cell "default"
# spools to DIR/spool. Writes DIR/env.sh, which every Grid Engine command here needs.
write_cell() {
    local dir=$1 qmaster_port=$2 execd_port=$3 root=$1/root common=$1/root/default/common x
    mkdir -p -- "$common" "$dir"/{spool/qmaster,spool/execd,log,run}
    for x in bin lib utilbin util; do ln -sfn -- "$SGE_LIB/$x" "$root/$x"; done
    cat >"$common/bootstrap" <<EOF
# Written by cluster/gridengine/testbed.sh
admin_user              none
default_domain          none
ignore_fqdn             true
spooling_method         classic
spooling_lib            libspoolc
spooling_params         $common;$dir/spool/qmaster
binary_path             /usr/sbin
qmaster_spool_dir       $dir/spool/qmaster
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
EOF
    echo localhost >"$common/act_qmaster"
    # This host's names are one host, "localhost" (what 127.0.0.1 resolves to).
    printf 'localhost %s\n' "$(hostname -s) $(hostname) $(hostname -f 2>/dev/null || true)" |
        tr ' ' '\n' | awk 'NF && !seen[$0]++' | paste -sd ' ' >"$common/host_aliases"
    cat >"$dir/env.sh" <<EOF
export SGE_ROOT=$root SGE_CELL=default SGE_QMASTER_PORT=$qmaster_port SGE_EXECD_PORT=$execd_port
export PATH=/usr/lib/gridengine:\$PATH
EOF
    # The packages' global configuration, with this test bed's spool, root allowed to
    # submit, load reports every 5 s (a rescheduled job waits for one), the accounting
    # file (qacct) written every second, and no mail.
    sed -e "s|^execd_spool_dir .*|execd_spool_dir        $dir/spool/execd|" \
        -e 's|^min_uid .*|min_uid                0|' -e 's|^min_gid .*|min_gid                0|' \
        -e 's|^load_report_time .*|load_report_time       00:00:05|' \
        -e 's|^mailer .*|mailer                 /bin/true|' \
        -e 's|^reporting_params .*|reporting_params       accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:01|' \
        "$SGE_SHARE/default-configuration" >"$dir/configuration"
    (
        # shellcheck source=/dev/null
        . "$dir/env.sh"
        spoolinit classic libspoolc "$common;$dir/spool/qmaster" init
        spooldefaults configuration "$dir/configuration"
        spooldefaults complexes "$SGE_SHARE/util/resources/centry"
        spooldefaults usersets "$SGE_SHARE/util/resources/usersets"
        spooldefaults managers root
        spooldefaults adminhosts localhost
    ) >>"$dir/log/init.log" 2>&1 || { tail -n 5 -- "$dir/log/init.log" >&2; return 1; }
}

# The queue all.q on this host with $2 slots, the parallel environment smp (slots of one
# host) and a scheduler that runs every second. No load thresholds: a machine busy with
# other work still takes jobs.
configure_queue() {
    local dir=$1 slots=$2
    qconf -as localhost
    qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
        -e 's/^flush_submit_sec .*/flush_submit_sec 1/' -e 's/^flush_finish_sec .*/flush_finish_sec 1/' \
        -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' >"$dir/sched.conf"
    qconf -Msconf "$dir/sched.conf"
    cat >"$dir/pe.conf" <<EOF
pe_name            smp
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
    qconf -Ap "$dir/pe.conf"
    qconf -sq | sed -e 's/^qname .*/qname all.q/' -e 's/^hostlist .*/hostlist localhost/' \
        -e "s/^slots .*/slots $slots/" -e 's/^pe_list .*/pe_list smp/' -e 's/^rerun .*/rerun TRUE/' \
        -e 's|^shell .*|shell /bin/bash|' -e 's/^shell_start_mode .*/shell_start_mode unix_behavior/' \
        -e 's/^notify .*/notify 00:00:30/' -e 's/^load_thresholds .*/load_thresholds NONE/' >"$dir/queue.conf"
    qconf -Aq "$dir/queue.conf"
}

# --- daemons -------------------------------------------------------------------

qmaster_answers() { qconf -sh >/dev/null 2>&1; }
# The queue instance is up: known to the qmaster and not in state u (unknown: no execd).
queue_ready() {
    local line
    line=$(qstat -f -q all.q 2>/dev/null | grep '^all.q@') || return 1
    [[ $(awk '{print $6}' <<<"$line") != *u* ]]
}

cmd_up() {
    local dir=$1 slots=${TESTBED_SLOTS:-4} ports
    [[ $slots =~ ^[1-9][0-9]?$ ]] || usage_error "TESTBED_SLOTS must be a number from 1 to 99, got '$slots'"
    cmd_install
    mkdir -p -- "$dir"
    dir=$(realpath -- "$dir")
    cmd_down "$dir" 2>/dev/null || true
    rm -rf -- "$dir/root" "$dir/spool"
    # A failure half-way stops what was started.
    trap 'trap - ERR INT TERM; cmd_down "$dir" || true; die "up failed; see $dir/log/"' ERR INT TERM

    read -r -a ports <<<"$(free_ports 2)"
    write_cell "$dir" "${ports[@]}"
    # shellcheck source=/dev/null
    . "$dir/env.sh"
    # SGE_ND: in the foreground, as start_daemon needs.
    start_daemon "$dir" qmaster env SGE_ND=1 sge_qmaster
    if ! wait_until 60 qmaster_answers; then
        note "sge_qmaster does not answer after 60 s:"
        tail -n 5 -- "$dir/log/qmaster.stderr" "$dir/spool/qmaster/messages" >&2 || true
        false
    fi
    configure_queue "$dir" "$slots" >>"$dir/log/init.log" 2>&1
    start_daemon "$dir" execd env SGE_ND=1 sge_execd
    if ! wait_until 60 queue_ready; then
        note "queue all.q not ready after 60 s:"
        qstat -f >&2 || true
        tail -n 5 -- "$dir/log/execd.stderr" "$dir/spool/qmaster/messages" >&2 || true
        false
    fi
    trap - ERR INT TERM
    note "Grid Engine test bed up in $dir: queue all.q@localhost ($slots slots), parallel environment smp, qmaster on 127.0.0.1:${ports[0]}"
    printf '. %s/env.sh\n' "$dir"
}

cmd_down() {
    local dir=$1 pid file
    [[ -f $dir/env.sh ]] || return 0
    # shellcheck source=/dev/null
    . "$dir/env.sh"
    if daemon_alive "$dir" qmaster; then
        if [[ -n $(qstat -u '*' 2>/dev/null) ]]; then
            note "deleting jobs still in the queue"
            qdel -f -u '*' >/dev/null 2>&1 || true
            wait_until 30 queue_empty || note "jobs still in the queue after 30 s"
        fi
    fi
    stop_daemons "$dir" execd
    stop_daemons "$dir" qmaster
    # Job processes that outlived it all carry this test bed's SGE_ROOT in their environment.
    local left=()
    while read -r file; do
        pid=${file#/proc/}
        pid=${pid%/environ}
        [[ $pid != "$$" ]] && grep -qz '^JOB_ID=' "$file" 2>/dev/null && left+=("$pid")
    done < <(grep -lzxF -- "SGE_ROOT=$dir/root" /proc/[0-9]*/environ 2>/dev/null)
    if ((${#left[@]})); then
        note "ending ${#left[@]} leftover job process(es): ${left[*]}"
        kill -KILL "${left[@]}" 2>/dev/null || true
    fi
}

queue_empty() { [[ -z $(qstat -u '*' 2>/dev/null) ]]; }

with_environment() {
    (
        # shellcheck source=/dev/null
        . "$1/env.sh"
        "${@:2}"
    )
}

# --- selftest -------------------------------------------------------------------

# Daemons of this machine started from the test bed in $1.
daemons_of() {
    local pid
    for pid in $(pgrep -x sge_qmaster; pgrep -x sge_execd); do
        tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "SGE_ROOT=$1/root" && printf '%s\n' "$pid"
    done
    return 0
}

cmd_selftest() {
    selftest_up sge "Grid Engine"
    local dir=$selftest_dir
    # shellcheck source=/dev/null
    . "$dir/env.sh"
    check "queue all.q ready" queue_ready
    local job array
    job=$(qsub -terse -wd "$dir" -o "$dir/job.out" -j y -b y hostname) || job=
    # shellcheck disable=SC2016 # expanded by the job
    printf '#!/bin/sh\necho "task $SGE_TASK_ID slots $NSLOTS"\n' >"$dir/task.sh"
    array=$(qsub -terse -wd "$dir" -t 1-2 -pe smp 2 -o "$dir/array.\$TASK_ID.out" -j y "$dir/task.sh") || array=
    check "qsub accepted a job and an array job" test -n "$job" -a -n "$array"
    check "both ran within 60 s" wait_until 60 queue_empty
    check "the job ran" test -s "$dir/job.out"
    check "each array task ran with 2 slots" grep -qx 'task 2 slots 2' "$dir/array.2.out"
    selftest_down
}

testbed_main "$@"
