#!/usr/bin/env python3
"""Runs the containers of coordinator.yaml and workers.yaml as local processes, the way
the kubelet would start them: each container's command and args, its environment, and
its volumes as folders (the Secret's items with the manifest's file modes and, as
fsGroup makes them, group-readable; the ConfigMap's item; the claim; the emptyDirs).
Mount paths in the commands point into a folder per pod, the Service's name and the
coordinator's bind address to a port on 127.0.0.1, and `dlsweep` to the binary given.

Checks what no schema validation can: that the commands start, that the keys from the
Secret are accepted (dlsweep refuses group-readable secret keys), that the workers reach
the coordinator through the Service address, and that every pod ends with status 0 when
the sweep is complete (which is what makes both Jobs complete).

Usage: run-locally.py DLSWEEP CONFIG WORKDIR [--workers N]
Prints the results folder (the claim's /results/sweep) on success; exit status 1 on failure.
"""
import argparse
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, name)) as handle:
        return list(yaml.safe_load_all(handle))


def job(documents, name):
    return next(d for d in documents if d["kind"] == "Job" and d["metadata"]["name"] == name)


def service_port(documents):
    service = next(d for d in documents if d["kind"] == "Service")
    return service["metadata"]["name"], service["spec"]["ports"][0]["port"]


def materialize(pod_spec, root, claim, files):
    """Makes a folder per volume under root and returns {mountPath: local folder}."""
    group_readable = "fsGroup" in pod_spec.get("securityContext", {})
    volumes = {}
    for volume in pod_spec["volumes"]:
        folder = os.path.join(root, "volumes", volume["name"])
        if "persistentVolumeClaim" in volume:
            folder = claim
        os.makedirs(folder, exist_ok=True)
        source = volume.get("secret") or volume.get("configMap")
        if source is not None:
            mode = source.get("defaultMode", 0o644)
            if group_readable:
                mode |= 0o440
            for item in source["items"]:
                target = os.path.join(folder, item["path"])
                shutil.copyfile(files[item["key"]], target)
                os.chmod(target, mode)
        volumes[volume["name"]] = folder
    container = pod_spec["containers"][0]
    return {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}


def command_line(container, mounts, replacements):
    text = " ".join(container["args"])
    # One pass, so that a folder put in is not taken for another mount path.
    pattern = "|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True))
    text = re.sub(r"(?<![\w/-])(" + pattern + r")(?=[/\s]|$)", lambda match: mounts[match.group(1)], text)
    for old, new in replacements:
        text = text.replace(old, new)
    return container["command"] + [text]


def quantity(text, divisor):
    """A CPU quantity ("2", "500m") in units of divisor, rounded up as the kubelet does."""
    def millis(value):
        value = str(value)
        return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)
    return str(-(-millis(text) // millis(divisor)))


def environment(container, binary, extra):
    env = {"PATH": os.path.dirname(binary) + ":/usr/bin:/bin", "HOME": "/nonexistent"}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "resourceFieldRef" in variable.get("valueFrom", {}):
            field = variable["valueFrom"]["resourceFieldRef"]
            kind, resource = field["resource"].split(".")
            env[variable["name"]] = quantity(container["resources"][kind][resource], field.get("divisor", "1"))
    env.update(extra)
    return env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dlsweep")
    parser.add_argument("config")
    parser.add_argument("workdir")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    binary = os.path.abspath(options.dlsweep)
    work = os.path.abspath(options.workdir)
    os.makedirs(work, exist_ok=True)

    # The Secret and the ConfigMap, made as the README says.
    keys = os.path.join(work, "keys")
    os.makedirs(keys, exist_ok=True)
    for name in ("coordinator", "worker"):
        subprocess.run([binary, "keys", "generate", os.path.join(keys, name), "--force"], check=True, stdout=subprocess.DEVNULL)
    files = {f"{n}.{e}": os.path.join(keys, f"{n}.{e}") for n in ("coordinator", "worker") for e in ("key", "pub")}
    files["sweep.yaml"] = os.path.abspath(options.config)

    coordinator_documents = load("coordinator.yaml")
    service_name, service_port_number = service_port(coordinator_documents)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    replacements = [
        (f"tcp://{service_name}:{service_port_number}", f"tcp://127.0.0.1:{port}"),
        (f"tcp://0.0.0.0:{service_port_number}", f"tcp://127.0.0.1:{port}"),
    ]
    claim = os.path.join(work, "claim")
    os.makedirs(claim, exist_ok=True)

    pods = []
    coordinator_spec = job(coordinator_documents, "dlsweep-coordinator")["spec"]["template"]["spec"]
    mounts = materialize(coordinator_spec, os.path.join(work, "coordinator"), claim, files)
    container = coordinator_spec["containers"][0]
    log = open(os.path.join(work, "coordinator.log"), "w")
    pods.append(("coordinator", subprocess.Popen(command_line(container, mounts, replacements), env=environment(container, binary, {}),
                                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))

    workers_job = job(load("workers.yaml"), "dlsweep-workers")
    worker_spec = workers_job["spec"]["template"]["spec"]
    container = worker_spec["containers"][0]
    for index in range(options.workers):
        mounts = materialize(worker_spec, os.path.join(work, f"worker-{index}"), claim, files)
        log = open(os.path.join(work, f"worker-{index}.log"), "w")
        extra = {"JOB_COMPLETION_INDEX": str(index)}
        pods.append((f"worker-{index}", subprocess.Popen(command_line(container, mounts, replacements), env=environment(container, binary, extra),
                                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))

    # Every pod until all have ended; a failed one ends the others (workers would wait
    # for a coordinator for ten minutes).
    deadline = time.monotonic() + 600
    statuses = {}
    while len(statuses) < len(pods) and time.monotonic() < deadline:
        for name, process in pods:
            if name not in statuses and process.poll() is not None:
                statuses[name] = process.returncode
        if any(status != 0 for status in statuses.values()):
            break
        time.sleep(0.2)
    for name, process in pods:
        if process.poll() is None:
            process.kill()
            process.wait()
            statuses.setdefault(name, "killed")
    failed = [f"{name}: {status}" for name, status in statuses.items() if status != 0]
    if failed:
        for name, _ in pods:
            with open(os.path.join(work, f"{name}.log")) as handle:
                print(f"== {name}.log\n" + "".join(handle.readlines()[-15:]), file=sys.stderr)
        print("pods that did not end with status 0: " + ", ".join(failed), file=sys.stderr)
        return 1
    # --out /results/sweep of the coordinator's command.
    print(os.path.join(claim, "sweep"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
