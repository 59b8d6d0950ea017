#!/usr/bin/env python3
"""A dlsweep worker in Python, written from Sources/SweepProtocol/PROTOCOL.md alone.

It registers with a coordinator, regenerates each task's problem and initial weights from
its seeds (SplitMix64 seeding, xoshiro256**, Box-Muller, the documented draw order), runs
plain full-batch gradient descent in float64 NumPy, measures the run and answers with a
`result` frame. It exists to show that the protocol document is enough to implement a
worker; it is slow (one Python process, no reduced path) and meant for small sweeps.

usage: protocol_worker.py ENDPOINT [--name NAME] [--heartbeat SECONDS] [--give-up SECONDS]
"""
import argparse
import json
import math
import os
import socket
import sys
import time

import numpy as np
import zmq

VERSION = 2
KINDS = {"hello": 1, "welcome": 2, "reject": 3, "task": 4, "result": 5, "task_failed": 6,
         "heartbeat": 7, "shutdown": 8, "bye": 9, "ack": 10, "register": 11}
NAMES = {v: k for k, v in KINDS.items()}
MASK = (1 << 64) - 1
LEAST_NORMAL = 2.2250738585072014e-308


# --- Framing -------------------------------------------------------------------------------

def encode_value(value):
    """Non-finite doubles travel as the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    return value


def frame(kind, body):
    return b"DLSW" + bytes([VERSION, KINDS[kind]]) + json.dumps(encode_value(body), allow_nan=False).encode()


def decode(data):
    if len(data) < 6 or data[:4] != b"DLSW":
        return None, None
    kind = NAMES.get(data[5])
    if kind is None or (data[4] != VERSION and kind != "reject"):
        return None, None
    try:
        return kind, json.loads(data[6:].decode())
    except (ValueError, UnicodeDecodeError):
        return None, None


def number(value):
    """A double from the wire (a number or one of the non-finite strings)."""
    if isinstance(value, str):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[value]
    return float(value)


# --- The generator ---------------------------------------------------------------------------

class NormalGenerator:
    def __init__(self, seed):
        x = seed & MASK
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            state.append(z ^ (z >> 31))
        self.s = state
        self.spare = None

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next_bits(self):
        s0, s1, s2, s3 = self.s
        result = (self.rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = self.rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        return (self.next_bits() >> 11) * 2.0 ** -53

    def normal(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        theta = 2.0 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)

    def matrix(self, rows, columns, sd=1.0):
        """Filled column by column."""
        values = [sd * self.normal() for _ in range(rows * columns)]
        return np.array(values, dtype=np.float64).reshape(columns, rows).T.copy()


def q_of(g):
    return np.linalg.qr(g, mode="reduced")[0]


# --- A task ----------------------------------------------------------------------------------

def generate_problem(p, seed):
    rng = NormalGenerator(seed)
    d, m, r, n = p["signalDim"], p["measurements"], p["latentDim"], p["samples"]
    basis = q_of(rng.matrix(d, r))
    z = rng.matrix(r, n)
    kappa = number(p["condition"])
    if kappa > 1 and r > 1:
        for i in range(r):
            z[i, :] *= kappa ** (-i / (r - 1))
    a = rng.matrix(m, d, 1.0 / math.sqrt(m))
    x = basis @ z
    test_signals = basis @ rng.matrix(r, p["testSamples"])
    test_noise = rng.matrix(m, p["testSamples"])
    return a, basis, x, test_signals, test_noise


def initial_weights(model, m, d, rng):
    depth, width = model["depth"], model["width"]
    shapes = [(d if l == depth - 1 else width, m if l == 0 else width) for l in range(depth)]
    scheme = model["initScheme"]
    if scheme in ("kaiming", "zero-last"):
        weights = [rng.matrix(rows, cols, 1.0 / math.sqrt(cols)) for rows, cols in shapes]
        if scheme == "zero-last":
            weights[-1] = np.zeros(shapes[-1])
    elif scheme == "orthogonal":
        weights = []
        for rows, cols in shapes:
            weights.append(q_of(rng.matrix(rows, cols)) if rows >= cols else q_of(rng.matrix(cols, rows)).T.copy())
    elif scheme == "balanced":
        dims = [m] + [rows for rows, _ in shapes]
        k0 = min(dims)
        frames = [q_of(rng.matrix(dim, k0)) for dim in dims]
        weights = [frames[l + 1] @ frames[l].T for l in range(depth)]
    else:
        raise ValueError(f"unknown initScheme {scheme}")
    alpha = number(model["initScale"])
    if alpha != 1:
        weights = [alpha * w for w in weights]
    return weights


def end_to_end(weights):
    w = weights[0]
    for layer in weights[1:]:
        w = layer @ w
    return w


def run_task(spec):
    p, model, t = spec["problem"], spec["model"], spec["training"]
    if t["optimizer"] != "gd" or p["measurementOperator"] != "gaussian":
        raise ValueError("only gd on a gaussian operator")
    a, basis, x, test_signals, test_noise = generate_problem(p, int(spec["seeds"]["problem"]))
    m, d, r, n = p["measurements"], p["signalDim"], p["latentDim"], p["samples"]
    rng = NormalGenerator(int(spec["seeds"]["training"]))
    noise = rng.matrix(m, n)
    y = a @ x
    sigma = number(t["noise"])
    if sigma > 0:
        y = y + sigma * noise
    weights = initial_weights(model, m, d, rng)
    depth = len(weights)
    lam = number(t["lambda"])
    gamma = 1.0 / n if t["meanDataTerm"] else 1.0
    lam_layer = lam / depth if t["lambdaPerLayer"] else lam
    s_max = np.linalg.svd(y, compute_uv=False)[0]
    eta = number(t["eta"]) if t.get("eta") is not None else number(t["etaScale"]) / (depth * gamma * s_max * s_max)
    decay = 1.0 - eta * lam_layer
    tol_rec = number(t["tolRec"]) if t.get("tolRec") is not None else max(10 * lam * math.sqrt(r), 1e-6)
    tol_off = number(t["tolOff"]) if t.get("tolOff") is not None else 1e-2
    steps, check_every = t["steps"], t["checkEvery"]
    log_every = t.get("logEvery")
    ar = a @ basis
    u, s, _ = np.linalg.svd(ar, full_matrices=False)
    ar_basis = u[:, : int(np.sum(s > 1e-10 * s[0])) if s[0] > 0 else 0]
    x_norm = max(np.linalg.norm(x), LEAST_NORMAL)

    def loss():
        data = np.linalg.norm(end_to_end(weights) @ y - x) ** 2
        return 0.5 * gamma * data + 0.5 * lam_layer * sum(np.linalg.norm(w) ** 2 for w in weights)

    def rec_error():
        return np.linalg.norm(end_to_end(weights) @ ar - basis)

    def off_error(w):
        return np.linalg.norm(w - (w @ ar_basis) @ ar_basis.T)

    def balancedness():
        return max((np.linalg.norm(weights[l + 1].T @ weights[l + 1] - weights[l] @ weights[l].T)
                    for l in range(depth - 1)), default=0.0)

    def point(step):
        w = end_to_end(weights)
        return {"step": step, "loss": loss(), "trainResidual": np.linalg.norm(w @ y - x) / x_norm,
                "reconstructionError": rec_error(), "offSubspaceError": off_error(w),
                "balancedness": balancedness()}

    def step():
        forward = [weights[0]]
        for l in range(1, depth):
            forward.append(weights[l] @ forward[-1])
        delta = gamma * ((forward[-1] @ y - x) @ y.T)
        for l in range(depth - 1, 0, -1):
            below = weights[l].T @ delta
            weights[l] = decay * weights[l] - eta * (delta @ forward[l - 1].T)
            delta = below
        weights[0] = decay * weights[0] - eta * delta

    started = time.time()
    initial = loss()
    diverged = not math.isfinite(initial)
    converged_at = None
    trajectory = []
    iterations = 0
    off_interval, next_off = check_every, 0

    def success_test(at):
        nonlocal off_interval, next_off
        if not rec_error() <= tol_rec:
            off_interval = check_every
            return False
        if not (at >= next_off or at == steps):
            return False
        if off_error(end_to_end(weights)) <= tol_off:
            return True
        off_interval = min(off_interval * 2, 64 * check_every)
        next_off = at + off_interval
        return False

    if log_every is not None:
        trajectory.append(point(0))
    if not diverged and success_test(0):
        converged_at = 0
    if not (t["stopOnSuccess"] and converged_at is not None) and not diverged and steps > 0:
        for it in range(1, steps + 1):
            step()
            iterations = it
            if it % check_every == 0 or it == steps:
                current = loss()
                if not math.isfinite(current) or current > 1e6 * max(initial, LEAST_NORMAL):
                    diverged = True
                    break
                if converged_at is None and success_test(it):
                    converged_at = it
                    if t["stopOnSuccess"]:
                        break
            if log_every is not None and it % log_every == 0:
                trajectory.append(point(it))
    seconds = time.time() - started

    levels = [number(v) for v in t["testNoise"]]
    w = end_to_end(weights)
    report = {"iterations": iterations, "trainSeconds": seconds}
    if converged_at is not None:
        report["convergedAt"] = converged_at
    if trajectory:
        report["trajectory"] = trajectory
    if not np.all(np.isfinite(w)):
        nan = math.nan
        report.update(trainResidual=nan, reconstructionError=nan, offSubspaceError=nan, oracleDistance=nan,
                      testError=[nan] * len(levels), oracleTestError=[nan] * len(levels), balancedness=nan,
                      effectiveRank=0, diverged=True, success=False)
        return report
    cutoff = max(1e-12, max(y.shape) * np.finfo(np.float64).eps)
    oracle = x @ np.linalg.pinv(y, rcond=cutoff)

    def test_error(mat, level):
        y_test = a @ test_signals
        if level > 0:
            y_test = y_test + level * test_noise
        errors = np.linalg.norm(mat @ y_test - test_signals, axis=0)
        norms = np.linalg.norm(test_signals, axis=0)
        ratios = np.where(norms > 0, errors / np.where(norms > 0, norms, 1), 0.0)
        return float(np.sum(ratios) / max(1, test_signals.shape[1]))

    rec = rec_error()
    off = off_error(w)
    values = np.linalg.svd(w, compute_uv=False)
    rank = int(np.sum(values > float(t["rankTolerance"]) * values[0])) if values[0] > 0 else 0
    report.update(
        trainResidual=float(np.linalg.norm(w @ y - x) / x_norm), reconstructionError=float(rec),
        offSubspaceError=float(off),
        oracleDistance=float(np.linalg.norm(w - oracle) / max(np.linalg.norm(oracle), LEAST_NORMAL)),
        testError=[test_error(w, v) for v in levels], oracleTestError=[test_error(oracle, v) for v in levels],
        balancedness=float(balancedness()), effectiveRank=rank, diverged=diverged,
        success=bool(not diverged and rec <= tol_rec and off <= tol_off))
    return report


# --- The session -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint")
    parser.add_argument("--name", default="py")
    parser.add_argument("--heartbeat", type=float, default=1.0)
    parser.add_argument("--give-up", type=float, default=120.0)
    args = parser.parse_args()

    worker_id = f"{args.name}-{os.getpid()}-{os.urandom(4).hex()}"
    sock = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.connect(args.endpoint)
    hello = {"protocolVersion": VERSION, "workerID": worker_id, "host": socket.gethostname() or "python",
             "pid": os.getpid(), "cores": 1, "blasThreads": 1, "capabilities": ["gd", "plain"], "prefetch": 1}
    registered = False
    fingerprint = None
    unsettled = {}  # taskID -> (sweep, frame), until acknowledged
    last_sent = 0.0
    last_heard = time.time()
    timeout = 10.0

    def send(data):
        try:
            sock.send(data, zmq.NOBLOCK)
        except zmq.Again:
            pass

    while True:
        now = time.time()
        if now - last_heard > args.give_up:
            print(f"protocol_worker: no coordinator for {args.give_up} s", file=sys.stderr)
            return 3
        if registered and now - last_heard > timeout:
            registered = False
        if now - last_sent >= args.heartbeat:
            last_sent = now
            send(frame("heartbeat", {"sentAt": now}) if registered else frame("hello", hello))
        if not sock.poll(100):
            continue
        kind, body = decode(sock.recv())
        last_heard = time.time()
        if kind == "welcome":
            registered, fingerprint = True, body["fingerprint"]
            timeout = number(body["workerTimeout"])
            for task_id in [k for k, (sweep, _) in unsettled.items() if sweep != fingerprint]:
                del unsettled[task_id]
            for _, data in unsettled.values():
                send(data)
        elif kind == "register":
            registered = False
            last_sent = 0.0
        elif kind == "ack":
            for task_id in body["taskIDs"]:
                unsettled.pop(task_id, None)
        elif kind == "task":
            if body["sweep"] != fingerprint:
                continue
            started = time.time()
            answer = {"sweep": body["sweep"], "taskID": body["taskID"], "attempt": body["attempt"]}
            try:
                answer.update(report=run_task(body["spec"]), startedAt=started, finishedAt=time.time())
                data = frame("result", answer)
            except Exception as error:  # the run threw: a failure of the task itself
                answer["reason"] = f"{type(error).__name__}: {error}"
                data = frame("task_failed", answer)
            unsettled[body["taskID"]] = (body["sweep"], data)
            send(data)
        elif kind == "shutdown":
            return 0
        elif kind == "reject":
            print(f"protocol_worker: refused: {body.get('reason')}", file=sys.stderr)
            return 4


if __name__ == "__main__":
    sys.exit(main())
