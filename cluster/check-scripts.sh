#!/usr/bin/env bash
# Static checks for every shell script under cluster/: `bash -n` (syntax) and the
# ShellCheck linter (all severities, plus a few optional checks); and of the Kubernetes
# manifests in cluster/kubernetes/: kubernetes-validate --strict (the API's schemas, no
# unknown field) for the oldest and newest Kubernetes versions it is checked against.
# Exits non-zero on any finding, so CI can run it as is.
#
# Usage: check-scripts.sh [--selftests]   (from anywhere; checks the folder it lives in)
#   --selftests  then also run the scripts' self-tests, which need no dlsweep build and
#                root: netns/testbed.sh selftest and netns/ssh-selftest.sh (they build
#                network namespaces), slurm/testbed.sh selftest (a real two-node Slurm;
#                installs slurm-wlm and munge when missing), gridengine/testbed.sh selftest
#                (a real Grid Engine; installs gridengine-* when missing)
# Installs Debian's shellcheck package with apt-get, and kubernetes-validate with pip,
# when missing and we are root; otherwise says how to install them and fails.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
selftests=no
case ${1:-} in
    '') ;;
    --selftests) selftests=yes ;;
    *) echo "usage: check-scripts.sh [--selftests]" >&2; exit 2 ;;
esac

if ! command -v shellcheck >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "check-scripts: shellcheck missing; installing Debian's shellcheck package" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
    else
        echo "check-scripts: shellcheck is not installed (Debian/Ubuntu: sudo apt-get install shellcheck)" >&2
        exit 1
    fi
fi

mapfile -d '' scripts < <(find "$here" -type f \( -name '*.sh' -o -name '*.sbatch' \) -print0 | sort -z)
if ((${#scripts[@]} == 0)); then
    echo "check-scripts: no scripts found under $here" >&2
    exit 1
fi

failed=0
for script in "${scripts[@]}"; do
    rel=${script#"$here"/}
    if ! bash -n "$script"; then
        echo "FAIL bash -n  $rel"
        failed=$((failed + 1))
        continue
    fi
    # sbatch files are bash scripts whatever their first line says.
    if ! shellcheck --shell=bash --severity=style --external-sources \
        --enable=avoid-nullary-conditions,deprecate-which,check-unassigned-uppercase \
        "$script"; then
        echo "FAIL shellcheck $rel"
        failed=$((failed + 1))
        continue
    fi
    echo "ok   $rel"
done

echo "check-scripts: ${#scripts[@]} scripts, $failed with findings ($(shellcheck --version | awk '/^version:/ {print "shellcheck " $2}'))"

# Kubernetes versions the manifests are validated against: the oldest still common, the newest.
kubernetes_versions=(1.29.0 1.37.0)
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
        echo "check-scripts: kubernetes-validate missing; installing it with pip" >&2
        python3 -m pip install --quiet kubernetes-validate >&2 ||
            python3 -m pip install --quiet --break-system-packages kubernetes-validate >&2 || true
    fi
    python3 -c 'import kubernetes_validate' 2>/dev/null ||
        { echo "check-scripts: kubernetes-validate is not installed (pip install kubernetes-validate)" >&2; exit 1; }
fi
mapfile -d '' manifests < <(find "$here/kubernetes" -type f -name '*.yaml' -print0 | sort -z)
for version in "${kubernetes_versions[@]}"; do
    if python3 -m kubernetes_validate --strict --quiet -k "$version" "${manifests[@]}"; then
        echo "ok   kubernetes/*.yaml: ${#manifests[@]} manifests valid (--strict) for Kubernetes $version"
    else
        echo "FAIL kubernetes-validate --strict -k $version kubernetes/*.yaml"
        failed=$((failed + 1))
    fi
done

if [[ $selftests == yes ]]; then
    tests=()
    if [[ $(id -u) -eq 0 ]]; then
        tests+=("$here/netns/testbed.sh selftest" "$here/netns/ssh-selftest.sh" "$here/slurm/testbed.sh selftest"
            "$here/gridengine/testbed.sh selftest")
    else
        echo "check-scripts: not root: skipping the self-tests (network namespaces, Slurm daemons)"
    fi
    for test in "${tests[@]}"; do
        read -r -a command <<<"$test"
        echo "check-scripts: ${test#"$here"/}"
        if ! bash "${command[@]}"; then
            echo "FAIL ${test#"$here"/}"
            failed=$((failed + 1))
        fi
    done
fi
((failed == 0))
