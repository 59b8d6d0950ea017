#!/usr/bin/env bash
# A real Slurm on one Linux machine: Debian's slurm-wlm and munge, one slurmctld
# and two slurmd (`-N n1`, `-N n2`) on this host, each with its own port, so that
# sbatch, srun, scancel, job arrays and dependencies behave as on a cluster of
# two nodes. Everything lives in one folder (config, munge key and socket, state,
# spool, logs, pid files); nothing under /etc is touched and no system service
# is started. Daemons listen on 127.0.0.1 only and are stopped by pid.
#
# Usage: testbed.sh install | up DIR | down DIR | run DIR CMD... | selftest
#   install    apt-get install slurm-wlm munge when missing (root)
#   up DIR     install if needed, write DIR/slurm.conf, start munged, slurmctld and
#              two slurmd; wait until both nodes are idle; print the SLURM_CONF line
#   down DIR   stop the daemons started in DIR by their pid files; idempotent
#   run DIR CMD...  up, run CMD with SLURM_CONF set, down (also on failure or signal);
#              exit status: CMD's
#   selftest   run a two-node job that runs `srun hostname` in a fresh folder; PASS/FAIL
# Environment:
#   TESTBED_CPUS   CPUs per node (default 2; SlurmdParameters=config_overrides lets it
#                  exceed the real count)
# Commands then need SLURM_CONF=DIR/slurm.conf (set by `run`; `up` prints it).
# Exit status: 0 ok, 1 failure, 2 usage, 3 not root or no apt-get.
set -Eeuo pipefail

readonly PROG=${0##*/}
readonly ROOT_REASON="slurmd starts jobs as their users"
readonly NODES=(n1 n2)
# shellcheck source-path=SCRIPTDIR/.. source=testbed-lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../testbed-lib.sh"

usage() {
    cat <<EOF
usage: $PROG install         apt-get install slurm-wlm munge when missing
       $PROG up DIR          start munged, slurmctld and slurmd n1, n2 with config in DIR
       $PROG down DIR        stop them (by the pid files in DIR); idempotent
       $PROG run DIR CMD...  up, CMD with SLURM_CONF=DIR/slurm.conf, down
       $PROG selftest        a two-node srun job on a fresh test bed; PASS/FAIL
environment: TESTBED_CPUS=<n> CPUs per node (default 2)
EOF
}

# --- install -----------------------------------------------------------------

cmd_install() {
    local missing=() p
    for p in slurmctld slurmd slurm-client munge; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 || { note "no apt-get: install Slurm (slurmctld, slurmd, srun) and munge by hand"; exit 3; }
    note "installing slurm-wlm and munge (missing: ${missing[*]})"
    # The packages would start system-wide daemons; this test bed runs its own. A
    # policy-rc.d that denies starts is put in place for the install only.
    local policy=/usr/sbin/policy-rc.d added_policy=no
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=yes
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || status=$?
    if ((status == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2 || status=$?
    fi
    [[ $added_policy == yes ]] && rm -f -- "$policy"
    ((status == 0)) || die "apt-get install slurm-wlm munge failed (status $status)"
}

# --- configuration -----------------------------------------------------------

write_config() {
    local dir=$1 cpus=$2 ctld_port=$3 port1=$4 port2=$5 host
    host=$(hostname -s)
    mkdir -p -- "$dir"/{state,log,run,munge} "$dir"/spool/{n1,n2}
    chmod 700 -- "$dir/munge"
    cat >"$dir/slurm.conf" <<EOF
# Written by cluster/slurm/testbed.sh: one slurmctld and two slurmd on $host.
ClusterName=dlsweeptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long Slurm holds a requeued job before starting it again
# (default 120 s): 10 s keeps the requeue tests short.
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked by their parent chain, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Nodes as configured below, whatever this machine has.
SlurmdParameters=config_overrides
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=30
MinJobAge=300
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$port1 CPUs=$cpus State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$port2 CPUs=$cpus State=UNKNOWN
# Preemption as clusters run it: a job of the higher-tier partition "urgent" takes the
# nodes of "debug" jobs, which Slurm requeues (PreemptMode=REQUEUE) and starts again later.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=n1,n2 MaxTime=INFINITE State=UP PriorityTier=2
EOF
}

# --- daemons -------------------------------------------------------------------

nodes_idle() {
    local states
    # One line per node and partition: each node counted once.
    states=$(SLURM_CONF=$1/slurm.conf sinfo -h -N -o '%N %t' 2>/dev/null | sort -u) || return 1
    [[ $(grep -cE '^n[12] idle$' <<<"$states") -eq 2 ]]
}

cmd_up() {
    local dir=$1 cpus=${TESTBED_CPUS:-2} ports
    [[ $cpus =~ ^[1-9][0-9]?$ ]] || usage_error "TESTBED_CPUS must be a number from 1 to 99, got '$cpus'"
    cmd_install
    mkdir -p -- "$dir"
    dir=$(realpath -- "$dir")
    cmd_down "$dir" 2>/dev/null || true
    # A failure half-way stops what was started.
    trap 'trap - ERR INT TERM; cmd_down "$dir" || true; die "up failed; see $dir/log/"' ERR INT TERM

    read -r -a ports <<<"$(free_ports 3)"
    write_config "$dir" "$cpus" "${ports[@]}"
    export SLURM_CONF=$dir/slurm.conf

    (umask 077 && dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none)
    start_daemon "$dir" munged munged --foreground --force \
        --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
    wait_until 10 test -S "$dir/munge/munge.socket" || { tail -n 5 -- "$dir/log/munged.stderr" >&2; false; }

    start_daemon "$dir" slurmctld slurmctld -D -i -f "$SLURM_CONF"
    local node
    for node in "${NODES[@]}"; do
        start_daemon "$dir" "slurmd-$node" slurmd -D -N "$node" -f "$SLURM_CONF"
    done
    if ! wait_until 60 nodes_idle "$dir"; then
        note "nodes not idle after 60 s:"
        sinfo -N >&2 || true
        tail -n 5 -- "$dir"/log/*.log >&2 || true
        false
    fi
    trap - ERR INT TERM
    note "Slurm test bed up in $dir: nodes n1 n2 ($cpus CPUs each), slurmctld on 127.0.0.1:${ports[0]}"
    printf 'export SLURM_CONF=%s\n' "$SLURM_CONF"
}

cmd_down() {
    local dir=$1 pid file
    [[ -d $dir ]] || return 0
    export SLURM_CONF=$dir/slurm.conf
    # Jobs first, while the controller runs: slurmd leaves running steps behind when it stops.
    if daemon_alive "$dir" slurmctld; then
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ') || jobs=
        if [[ -n ${jobs// /} ]]; then
            note "cancelling jobs still in the queue: $jobs"
            # shellcheck disable=SC2086 # a list of job ids
            scancel $jobs 2>/dev/null || true
            wait_until 45 queue_empty || note "jobs still in the queue after 45 s: $(squeue -h -o %A | tr '\n' ' ')"
        fi
    fi
    # Both slurmd, then the controller, then munge.
    stop_daemons "$dir" slurmd-n1 slurmd-n2
    stop_daemons "$dir" slurmctld
    stop_daemons "$dir" munged
    # Job processes that outlived it all (slurmstepd and the tasks it started) carry this
    # test bed's config in their environment: end them by pid.
    local left=()
    while read -r file; do
        pid=${file#/proc/}
        pid=${pid%/environ}
        if grep -qz '^SLURM_JOB_ID=' "$file" 2>/dev/null || [[ $(cat "/proc/$pid/comm" 2>/dev/null) == slurmstepd ]]; then
            left+=("$pid")
        fi
    done < <(grep -lzxF -- "SLURM_CONF=$dir/slurm.conf" /proc/[0-9]*/environ 2>/dev/null)
    if ((${#left[@]})); then
        note "ending ${#left[@]} leftover job process(es): ${left[*]}"
        kill -KILL "${left[@]}" 2>/dev/null || true
    fi
}

queue_empty() { [[ -z $(squeue -h -o %A 2>/dev/null) ]]; }

with_environment() { SLURM_CONF=$1/slurm.conf "${@:2}"; }

# --- selftest -------------------------------------------------------------------

# Daemons of this machine whose command line names the test bed in $1.
daemons_of() {
    local pid
    for pid in $(pgrep -x slurmctld; pgrep -x slurmd; pgrep -x munged); do
        { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$1/" && printf '%s\n' "$pid"
    done
    return 0
}

cmd_selftest() {
    selftest_up slurm Slurm
    local dir=$selftest_dir
    export SLURM_CONF=$dir/slurm.conf
    check "two idle nodes" nodes_idle "$dir"
    local job
    job=$(sbatch --parsable --nodes=2 --ntasks-per-node=1 --output="$dir/job-%j.out" --chdir="$dir" \
        --wrap 'srun --label hostname; srun --nodes=1 --ntasks=1 printenv SLURMD_NODENAME') || job=
    check "sbatch accepted a two-node job" test -n "$job"
    job_done() { [[ -z $(squeue -h -j "$job" -o %T 2>/dev/null) ]] && [[ -s $dir/job-$job.out ]]; }
    check "the job ran within 60 s" wait_until 60 job_done
    check "srun ran a task on each node" test "$(grep -cE '^[01]: ' "$dir/job-$job.out" 2>/dev/null)" -eq 2
    selftest_down
}

testbed_main "$@"
