#!/usr/bin/env bash
# Runs sweep.sbatch and add-workers.sbatch on this machine without Slurm: a
# stand-in `srun` starts the tasks locally, and DLSWEEP (default: the fake in
# cluster/netns/fake-dlsweep.py) plays dlsweep. Checks that the sweep completes,
# the table lands next to the job output, the address file is written while
# the coordinator runs and removed after, and added workers join.
#
# Usage: smoke-test.sh [DLSWEEP_BINARY]     exit 0 = PASS. Binds and connects on 127.0.0.1 only.
set -Euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dlsweep=$(realpath -- "${1:-$here/../netns/fake-dlsweep.py}")
work=$(mktemp -d "${TMPDIR:-/tmp}/dlsweep-slurm-smoke.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    rm -rf -- "$work"
}
trap cleanup EXIT

# A local srun: SLURM_NTASKS copies of the command, --output with %N/%t/%j
# expanded, SIGTERM passed on, status = the worst task's.
mkdir -p "$work/bin"
cat >"$work/bin/srun" <<'EOF'
#!/usr/bin/env bash
output=
while [[ $# -gt 0 && $1 == -* ]]; do
    case $1 in
        --output=*) output=${1#--output=} ;;
        --error=* | --kill-on-bad-exit=* | --cpus-per-task=* | --ntasks=* | --nodes=* | --overlap | --export=*) ;;
        *) echo "fake srun: unsupported option $1" >&2; exit 2 ;;
    esac
    shift
done
children=()
trap 'kill -TERM "${children[@]}" 2>/dev/null' TERM INT
for ((t = 0; t < ${SLURM_NTASKS:-1}; t++)); do
    file=${output//%N/$(hostname)}
    file=${file//%t/$t}
    file=${file//%j/$SLURM_JOB_ID}
    SLURM_PROCID=$t "$@" >"${file:-/dev/stdout}" 2>&1 &
    children+=($!)
done
worst=0
for c in "${children[@]}"; do
    while :; do
        wait "$c"; s=$?
        kill -0 "$c" 2>/dev/null || break
    done
    ((s > worst)) && worst=$s
done
exit "$worst"
EOF
chmod +x "$work/bin/srun"

printf 'fake_tasks: 30\nfake_task_seconds: 0.2\n' >"$work/sweep.yaml"
failures=0
check() {
    local what=$1
    shift
    if "$@"; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; failures=$((failures + 1)); fi
}

echo "slurm smoke test in $work with $dlsweep"
(
    cd "$work" && PATH=$work/bin:$PATH SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR=$work SLURM_NTASKS=1 \
        SLURM_JOB_NUM_NODES=1 SLURM_JOB_NODELIST=$(hostname) DLSWEEP=$dlsweep \
        DLSWEEP_COORD_HOST=127.0.0.1 DLSWEEP_BIND_HOST=127.0.0.1 \
        bash "$here/sweep.sbatch" sweep.yaml --heartbeat 1 >"$work/slurm-4242.out" 2>&1
) &
job=$!
pids+=("$job")

out=$work/dlsweep-runs/4242
for _ in $(seq 1 100); do [[ -s $out/connect.address ]] && break; sleep 0.1; done
check "connect.address written while the coordinator runs" test -s "$out/connect.address"
check "CURVE keys made for the run" test -f "$out/keys/worker.key" -a -f "$out/keys/coordinator.pub" -a -f "$out/keys/authorized/worker.pub"

# Two more workers, as an add-workers job would add them.
(
    cd "$work" && PATH=$work/bin:$PATH SLURM_JOB_ID=4243 SLURM_SUBMIT_DIR=$work SLURM_NTASKS=2 \
        SLURM_JOB_NUM_NODES=1 DLSWEEP=$dlsweep \
        bash "$here/add-workers.sbatch" "$out" >"$work/slurm-4243.out" 2>&1
) &
add=$!
pids+=("$add")

wait "$job"
check "sweep job exits 0" test $? -eq 0
wait "$add"
check "add-workers job exits 0" test $? -eq 0
check "table copied next to slurm-4242.out" test -s "$work/dlsweep-4242.table.md" -a -s "$work/dlsweep-4242.table.csv"
check "table printed into slurm-4242.out" grep -q '^| ' "$work/slurm-4242.out"
check "connect.address removed at the end" test ! -e "$out/connect.address"
check "coordinator.finished says status=0" grep -qx 'status=0' "$out/coordinator.finished"
# shellcheck disable=SC2016 # $1... expand in the inner bash
check "added workers ran tasks" bash -c 'grep -l "sweep done" "$1"/logs/add-4243-*.log | grep -q .' _ "$out"
# shellcheck disable=SC2016
check "a late add-workers job exits 0 at once" bash -c \
    'cd "$1" && PATH=$1/bin:$PATH SLURM_JOB_ID=4244 SLURM_SUBMIT_DIR=$1 DLSWEEP=$2 timeout 20 bash "$3/add-workers.sbatch" "$4" >/dev/null 2>&1' \
    _ "$work" "$dlsweep" "$here" "$out"

if ((failures == 0)); then
    echo PASS
else
    echo "FAIL ($failures checks); job output:"
    cat "$work/slurm-4242.out" "$work/slurm-4243.out"
    exit 1
fi
