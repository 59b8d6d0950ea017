#!/usr/bin/env bash
# Installs what dlsweep needs on a fresh Debian/Ubuntu machine (run as root or with sudo):
# OpenBLAS + LAPACKE, libzmq, SQLite, pkg-config, GLPK (the diagonal model's minimum-l1 linear program); shellcheck and iproute2 for the cluster
# scripts and the multi-host test; NumPy for the exact-replay test and the NumPy benchmark (SciPy
# for its reduced step);
# pyzmq for the Python worker written from PROTOCOL.md (scripts/protocol_worker.py); Dask
# distributed for the dispatch benchmark's comparison (scripts/bench_dask_noop.py);
# chromium, chromium-driver and selenium for the report test (headless Chromium opens report.html);
# prometheus_client for the /metrics test (its parser reads the live view's metrics);
# slurm-wlm and munge for the Slurm test, Son of Grid Engine (gridengine-master, -exec, -client)
# for the Grid Engine test (installed by cluster/slurm/testbed.sh and cluster/gridengine/testbed.sh,
# which keep their system services from starting); kubernetes-validate for the offline check of
# the Kubernetes manifests (cluster/check-scripts.sh) and PyYAML for running their pods locally
# (cluster/kubernetes/run-locally.py).
#
# Usage: bash scripts/setup.sh [--shell-files [PREFIX]]
#   --shell-files  also build dlsweep and install its shell completions and man page under
#                  PREFIX (default ~/.local; scripts/install-shell-files.sh)
set -euo pipefail

shell_files=""
if [ "${1:-}" = "--shell-files" ]; then
    shell_files="${2:-$HOME/.local}"
elif [ -n "${1:-}" ]; then
    echo "setup: unknown argument '$1' (--shell-files [PREFIX])" >&2
    exit 2
fi

packages=(libopenblas-dev liblapacke-dev libzmq3-dev libglpk-dev libsqlite3-dev sqlite3 pkg-config shellcheck iproute2 python3 python3-zmq
          python3-prometheus-client chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import numpy' 2>/dev/null; then
    echo "setup: installing numpy" >&2
    python3 -m pip install --quiet numpy 2>/dev/null \
        || { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy >/dev/null; } \
        || { echo "setup: could not install numpy (pip install numpy)" >&2; exit 1; }
fi
if ! python3 -c 'import scipy.linalg.blas' 2>/dev/null; then
    # For `dlsweep bench core --numpy`: the reduced step in NumPy with SciPy's in-place dgemm.
    echo "setup: installing scipy" >&2
    python3 -m pip install --quiet scipy 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages scipy 2>/dev/null \
        || { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-scipy >/dev/null; } \
        || { echo "setup: could not install scipy (pip install scipy)" >&2; exit 1; }
fi
if ! python3 -c 'import zmq' 2>/dev/null; then
    # A python3 other than the system's (pyenv, a venv) does not see python3-zmq.
    echo "setup: installing pyzmq" >&2
    python3 -m pip install --quiet pyzmq 2>/dev/null \
        || { echo "setup: could not install pyzmq (pip install pyzmq)" >&2; exit 1; }
fi
# pip_module MODULE PACKAGE: pip-installs PACKAGE when python3 cannot import MODULE (a python3
# other than the system's, such as pyenv's or a venv's, does not see Debian's python3-* packages).
pip_module() {
    python3 -c "import $1" 2>/dev/null && return 0
    echo "setup: installing $2" >&2
    python3 -m pip install --quiet "$2" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "$2" 2>/dev/null \
        || { echo "setup: could not install $2 (pip install '$2')" >&2; exit 1; }
}
pip_module dask.distributed "dask[distributed]"       # dlsweep bench dispatch --compare-dask (scripts/bench_dask_noop.py)
pip_module prometheus_client.parser prometheus-client # the /metrics tests parse it with Prometheus' parser (scripts/parse_metrics.py)
pip_module selenium selenium                          # the tests that open report.html in headless Chromium
pip_module yaml pyyaml                                # cluster/kubernetes/run-locally.py (the manifests' pods as local processes)
pip_module kubernetes_validate kubernetes-validate    # the Kubernetes manifests' offline validation
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo bash "$(dirname "$0")/../cluster/slurm/testbed.sh" install
$sudo bash "$(dirname "$0")/../cluster/gridengine/testbed.sh" install
echo "setup: system packages ready" >&2
if [ -n "$shell_files" ]; then
    bash "$(dirname "$0")/install-shell-files.sh" --prefix "$shell_files"
fi
