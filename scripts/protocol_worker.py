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
import struct
import math
import os
import socket
import sys
import time

import numpy as np
import zmq

VERSION = 8
KINDS = {"hello": 1, "welcome": 2, "reject": 3, "task": 4, "result": 5, "task_failed": 6,
         "heartbeat": 7, "shutdown": 8, "bye": 9, "ack": 10, "register": 11, "batch": 12}
NAMES = {v: k for k, v in KINDS.items()}
MASK = (1 << 64) - 1
LEAST_NORMAL = 2.2250738585072014e-308


# --- Framing (PROTOCOL.md, "Encoding" and "Bodies") ----------------------------------------
# Every body but reject's is binary: fields in the order listed, little-endian; i64 and f64
# take 8 bytes, bool 1 (0 or 1), str a u32 byte count then UTF-8, a list a u32 count then the
# elements, an optional value a presence byte (0 or 1) then the value, steps a u8 tag (0: a
# fixed i64 follows, 1: "auto"). Bodies decode into dicts keyed by the field names.

OPT, LIST = "opt", "list"
SCHEMAS = {
    "problem": [("signalDim", "i64"), ("measurements", "i64"), ("latentDim", "i64"), ("samples", "i64"),
                ("condition", "f64"), ("measurementOperator", "str"), ("testSamples", "i64")],
    "model": [("kind", (OPT, "str")), ("depth", "i64"), ("width", "i64"), ("initScheme", "str"), ("initScale", "f64")],
    "training": [("lambda", "f64"), ("noise", "f64"), ("steps", "steps"), ("maxSteps", "i64"), ("budgetFactor", "f64"),
                 ("eta", (OPT, "f64")), ("etaScale", "f64"), ("optimizer", "str"), ("alpha", (OPT, "f64")),
                 ("beta", (OPT, "f64")), ("stepRule", (OPT, "str")), ("flowRtol", (OPT, "f64")),
                 ("flowAtol", (OPT, "f64")), ("flowTime", (OPT, "f64")), ("path", "str"), ("stopOnSuccess", "bool"),
                 ("logEvery", (OPT, "i64")), ("logDensity", (OPT, "i64")), ("tolConv", "f64"), ("tolGrad", "f64"),
                 ("tolRec", "f64"), ("tolOff", "f64"), ("testNoise", (LIST, "f64")), ("meanDataTerm", "bool"),
                 ("lambdaPerLayer", "bool"), ("rankTolerance", "f64"), ("checkEvery", "i64"),
                 ("sleepSeconds", (OPT, "f64"))],
    "seeds": [("problem", "str"), ("training", "str")],
    "spec": [("problem", "problem"), ("model", "model"), ("training", "training"), ("seeds", "seeds")],
    "point": [("step", "i64"), ("loss", "f64"), ("trainResidual", "f64"), ("reconstructionError", "f64"),
              ("offSubspaceError", "f64"), ("targetDistance", "f64"), ("gradientNorm", "f64"), ("balancedness", "f64"),
              ("flowTime", (OPT, "f64")), ("singularValues", (OPT, (LIST, "f64"))), ("lossGap", (OPT, "f64"))],
    "hello": [("protocolVersion", "i64"), ("workerID", "str"), ("host", "str"), ("pid", "i64"), ("cores", "i64"),
              ("blasThreads", "i64"), ("capabilities", (LIST, "str")), ("prefetch", "i64"), ("session", (OPT, "str"))],
    "welcome": [("sweep", "str"), ("fingerprint", "str"), ("heartbeatInterval", "f64"), ("workerTimeout", "f64"),
                ("prefetch", "i64"), ("session", "str")],
    "task": [("sweep", "str"), ("taskID", "i64"), ("attempt", "i64"), ("spec", "spec")],
    "result": [("session", "str"), ("sweep", "str"), ("taskID", "i64"), ("attempt", "i64"), ("report", "report"), ("startedAt", "f64"),
               ("finishedAt", "f64")],
    "task_failed": [("session", "str"), ("sweep", "str"), ("taskID", "i64"), ("attempt", "i64"), ("reason", "str")],
    "heartbeat": [("session", "str"), ("sentAt", "f64")],
    "shutdown": [("reason", "str")],
    "bye": [("session", "str"), ("reason", "str"), ("taskIDs", (LIST, "i64"))],
    "ack": [("taskIDs", (LIST, "i64"))],
    "register": [("reason", "str")],
}


# The report (PROTOCOL.md, "The report"): a u8 count, then for each field present a u8 tag, a
# u8 type (1 f64, 2 i64, 3 bool, 4 list of f64, 5 u32 byte length then bytes, 6 str) and the value,
# in increasing tag order. A field left out is simply absent.
REPORT_FIELDS = [  # (tag, name, type)
    (1, "converged", "bool"), (2, "recovered", "bool"), (3, "stationary", "bool"), (4, "budgetCapped", "bool"),
    (5, "diverged", "bool"), (6, "iterations", "i64"), (7, "convergedAt", "i64"), (8, "recoveredAt", "i64"),
    (9, "targetDistance", "f64"), (10, "gradientNorm", "f64"), (11, "reconstructionError", "f64"),
    (12, "offSubspaceError", "f64"), (13, "oracleDistance", "f64"), (14, "trainResidual", "f64"),
    (15, "balancedness", "f64"), (16, "effectiveRank", "i64"), (17, "trainSeconds", "f64"), (18, "flowTime", "f64"),
    (19, "lossGapRate", "f64"), (20, "balancednessDrift", "f64"), (21, "bestRankGap", "f64"),
    (22, "lossRatio", "f64"), (23, "supportSize", "i64"), (24, "supportRecovered", "bool"),
    (25, "stationaryAt", "i64"), (26, "stepBudget", "i64"), (27, "oracleNorm", "f64"), (28, "l1Norm", "f64"),
    (29, "testError", (LIST, "f64")), (30, "oracleTestError", (LIST, "f64")), (31, "trajectory", "trajectory"),
    (32, "targetResidual", "f64"), (33, "targetMethod", "str"),
    (34, "flowLimitDistance", "f64"), (35, "flowLimitL1Distance", "f64"),  # the diagonal model's; not run here
]
REPORT_TYPES = {"f64": 1, "i64": 2, "bool": 3, (LIST, "f64"): 4, "trajectory": 5, "str": 6}


def encode_report(out, report):
    present = [(tag, name, kind) for tag, name, kind in REPORT_FIELDS
               if report.get(name) is not None and (kind != "trajectory" or report[name])]
    out.append(len(present))
    for tag, name, kind in present:
        out += bytes([tag, REPORT_TYPES[kind]])
        if kind == "trajectory":
            points = bytearray()
            encode_field(points, (LIST, "point"), report[name])
            out += struct.pack("<I", len(points)) + points
        else:
            encode_field(out, kind, report[name])


def encode_field(out, kind, value):
    if kind == "report":
        encode_report(out, value)
    elif kind == "i64":
        out += struct.pack("<q", int(value))
    elif kind == "f64":
        out += struct.pack("<d", float(value))
    elif kind == "bool":
        out.append(1 if value else 0)
    elif kind == "str":
        data = str(value).encode()
        out += struct.pack("<I", len(data)) + data
    elif kind == "steps":
        out += b"\x01" if value == "auto" else b"\x00" + struct.pack("<q", int(value))
    elif isinstance(kind, tuple) and kind[0] == OPT:
        if value is None:
            out.append(0)
        else:
            out.append(1)
            encode_field(out, kind[1], value)
    elif isinstance(kind, tuple) and kind[0] == LIST:
        out += struct.pack("<I", len(value))
        for element in value:
            encode_field(out, kind[1], element)
    else:
        for name, field in SCHEMAS[kind]:
            encode_field(out, field, value.get(name))


class Reader:
    def __init__(self, data, offset, end):
        self.data, self.offset, self.end = data, offset, end

    def take(self, count):
        if count > self.end - self.offset:
            raise ValueError("body too short")
        start = self.offset
        self.offset += count
        return self.data[start:self.offset]

    def field(self, kind):
        if kind == "i64":
            return struct.unpack("<q", self.take(8))[0]
        if kind == "f64":
            return struct.unpack("<d", self.take(8))[0]
        if kind == "bool":
            byte = self.take(1)[0]
            if byte > 1:
                raise ValueError("bad bool")
            return byte == 1
        if kind == "str":
            return self.take(struct.unpack("<I", self.take(4))[0]).decode()
        if kind == "steps":
            tag = self.take(1)[0]
            if tag > 1:
                raise ValueError("bad steps tag")
            return "auto" if tag == 1 else struct.unpack("<q", self.take(8))[0]
        if isinstance(kind, tuple) and kind[0] == OPT:
            present = self.take(1)[0]
            if present > 1:
                raise ValueError("bad presence byte")
            return self.field(kind[1]) if present else None
        if isinstance(kind, tuple) and kind[0] == LIST:
            return [self.field(kind[1]) for _ in range(struct.unpack("<I", self.take(4))[0])]
        body = {}
        for name, field in SCHEMAS[kind]:
            value = self.field(field)
            if value is not None:
                body[name] = value
        return body


def frame(kind, body):
    out = bytearray(b"DLSW" + bytes([VERSION, KINDS[kind]]))
    encode_field(out, kind, body)
    return bytes(out)


def decode(data):
    """The messages of a frame as (kind, body) pairs; [] for a frame this worker cannot read."""
    if len(data) < 6 or data[:4] != b"DLSW":
        return []
    kind = NAMES.get(data[5])
    if kind is None or (data[4] != VERSION and kind != "reject"):
        return []
    try:
        if kind == "reject":
            return [(kind, json.loads(data[6:].decode()))]
        reader = Reader(data, 6, len(data))
        if kind != "batch":
            body = reader.field(kind)
            return [(kind, body)] if reader.offset == reader.end else []
        entries = []
        for _ in range(struct.unpack("<I", reader.take(4))[0]):
            entry_kind = NAMES.get(reader.take(1)[0])
            length = struct.unpack("<I", reader.take(4))[0]
            entry = Reader(data, reader.offset, reader.offset + length)
            reader.take(length)
            body = entry.field(entry_kind)
            if entry_kind not in ("task", "result", "task_failed") or entry.offset != entry.end:
                return []
            entries.append((entry_kind, body))
        return entries if reader.offset == reader.end else []
    except (ValueError, UnicodeDecodeError, struct.error, KeyError):
        return []


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


# --- The target of training (docs/MODEL.md section 4) -----------------------------------------

def svd_rank(values, tolerance):
    return int(np.sum(values > tolerance * values[0])) if len(values) and values[0] > 0 else 0


def scalar_prox(z, tau, p):
    """argmin over x >= 0 of (x - z)^2 / 2 + tau x^p."""
    if p == 2:
        return z / (1 + 2 * tau)
    if p == 1:
        return max(z - tau, 0.0)
    x_hat = (tau * p * (1 - p)) ** (1 / (2 - p))
    phi = lambda v: v + tau * p * v ** (p - 1)
    if not z > phi(x_hat):
        return 0.0
    x = z
    for _ in range(100):
        f = phi(x) - z
        df = 1 + tau * p * (p - 1) * x ** (p - 2)
        nxt = max(x_hat, x - f / df)
        if abs(nxt - x) <= 1e-16 * x:
            x = nxt
            break
        x = nxt
    h = 0.5 * (x - z) ** 2 + tau * x ** p
    return x if h < 0.5 * z * z else 0.0


class Schatten:
    """g(D) = gamma/2 ||D S - B||^2 + mu sum sigma_i(D)^p, at most max_rank nonzero singular values."""

    def __init__(self, b, s, gamma, mu, p, max_rank):
        self.b, self.s, self.gamma, self.mu, self.p, self.max_rank = b, s, gamma, mu, p, max_rank

    def objective(self, d):
        data = np.sum((d * self.s - self.b) ** 2)
        sigma = np.linalg.svd(d, compute_uv=False)
        return 0.5 * self.gamma * data + self.mu * sum(v ** self.p for v in sigma if v > 0)

    def prox_step(self, d, t):
        z = d - t * self.gamma * (d * self.s ** 2 - self.b * self.s)
        u, sigma, vt = np.linalg.svd(z, full_matrices=False)
        shrunk = [scalar_prox(v, t * self.mu, self.p) if i < self.max_rank else 0.0 for i, v in enumerate(sigma)]
        return (u * np.array(shrunk)) @ vt

    def minimize(self, start, iterations=50000):
        t = 1 / (self.gamma * np.max(self.s) ** 2)
        current, value = start, self.objective(start)
        extrapolated, momentum, stalled = current, 1.0, 0
        for _ in range(iterations):
            nxt = self.prox_step(extrapolated, t)
            nxt_value = self.objective(nxt)
            if nxt_value > value:
                momentum = 1.0
                nxt = self.prox_step(current, t)
                nxt_value = self.objective(nxt)
            change = np.linalg.norm(nxt - current)
            size = max(np.linalg.norm(nxt), np.linalg.norm(current))
            stalled = 0 if nxt_value < value - 1e-16 * abs(value) else stalled + 1
            new_momentum = (1 + math.sqrt(1 + 4 * momentum * momentum)) / 2
            extrapolated = nxt + ((momentum - 1) / new_momentum) * (nxt - current)
            momentum, current, value = new_momentum, nxt, nxt_value
            if change <= 1e-14 * size or size == 0 or stalled >= 50:
                break
        return current

    def reweighted(self, start):
        current = start
        for _ in range(500):
            u, sigma, _ = np.linalg.svd(current, full_matrices=False)
            rank = min(svd_rank(sigma, 1e-12), self.max_rank)
            if rank == 0:
                return current
            q = u[:, :rank]
            weight = self.mu * self.p * sigma[:rank] ** (self.p - 2)
            e = self.gamma * (q.T @ self.b) * self.s / (weight[:, None] + self.gamma * self.s ** 2)
            nxt = q @ e
            change = np.linalg.norm(nxt - current)
            before = self.objective(current)
            if not self.objective(nxt) <= before + 1e-14 * abs(before):
                break
            current = nxt
            if change <= 1e-15 * np.linalg.norm(nxt):
                break
        return current

    def polish(self, start):
        t = 1 / (self.gamma * np.max(self.s) ** 2)
        current = start
        for _ in range(200):
            current = self.reweighted(current)
            nxt = self.prox_step(current, t)
            change = np.linalg.norm(nxt - current)
            size = max(np.linalg.norm(nxt), np.linalg.norm(current))
            if self.objective(nxt) <= self.objective(current):
                current = nxt
            if change <= 1e-15 * size or size == 0:
                break
        return current

    # The kept-direction search and the manifold polish of docs/MODEL.md section 4.

    def descend(self, q):
        """From the kept directions q (r x k0): E = q^T B S^-1, then IRLS in E and Procrustes in q."""
        e = (q.T @ self.b) / self.s
        current = q @ e
        for _ in range(20000):
            u, sigma, vt = np.linalg.svd(e, full_matrices=False)
            rank = min(svd_rank(sigma, 1e-12), self.max_rank)
            if rank == 0:
                return np.zeros((self.b.shape[0], 0)), np.zeros((0, len(self.s)))
            q = q @ u[:, :rank]
            weight = self.mu * self.p * sigma[:rank] ** (self.p - 2)
            e = self.gamma * (q.T @ self.b) * self.s / (weight[:, None] + self.gamma * self.s ** 2)
            if rank < self.b.shape[0]:
                pu, _, pvt = np.linalg.svd((self.b * self.s) @ e.T, full_matrices=False)
                q = pu @ pvt
            d = q @ e
            change = np.linalg.norm(d - current)
            current = d
            if change <= 1e-11 * np.linalg.norm(d):
                break
        u, sigma, vt = np.linalg.svd(e, full_matrices=False)
        rank = min(svd_rank(sigma, 1e-12), self.max_rank)
        return q @ u[:, :rank], sigma[:rank, None] * vt[:rank]

    def gradient(self, d, rank):
        g = self.gamma * (d * self.s - self.b) * self.s
        u, sigma, vt = np.linalg.svd(d, full_matrices=False)
        u, w = u[:, :rank], vt[:rank].T
        return g + self.mu * self.p * (u * sigma[:rank] ** (self.p - 1)) @ w.T, u, w

    def residual(self, d, rank):
        scale = np.linalg.norm(self.gamma * self.b * self.s)
        if scale == 0:
            return 0.0
        if self.p == 2:
            return np.linalg.norm(self.gamma * (d * self.s - self.b) * self.s + 2 * self.mu * d) / scale
        g, u, w = self.gradient(d, rank)
        normal = g - u @ (u.T @ g)
        tangent = u @ (u.T @ g) + normal @ w @ w.T
        out = np.linalg.norm(tangent)
        if self.p == 1 and self.mu > 0 and rank < self.max_rank:
            largest = np.linalg.norm(normal - normal @ w @ w.T, 2) if normal.size else 0.0
            out = max(out, largest - self.mu)
        return out / scale

    def newton(self, q, e):
        """Newton on the rank-q manifold in the chart D = (q + q_perp K)(e + F), central-difference Hessian."""
        r, k, rank = self.b.shape[0], len(self.s), q.shape[1]
        res = self.residual(q @ e, rank)
        if rank == 0:
            return q, e, res
        nk = (r - rank) * rank
        last = math.inf
        for _ in range(20):
            perp = np.linalg.svd(np.eye(r) - q @ q.T)[0][:, : r - rank]

            def chart(x):
                basis = q + perp @ x[:nk].reshape(rank, r - rank).T
                moved = e + x[nk:].reshape(k, rank).T
                g = self.gradient(basis @ moved, rank)[0]
                return np.concatenate([((perp.T @ g) @ moved.T).T.ravel(), (basis.T @ g).T.ravel()])

            n = nk + rank * k
            g0 = chart(np.zeros(n))
            scale_f = max(np.linalg.norm(e) / math.sqrt(rank * k), 1e-300)
            hessian = np.zeros((n, n))
            for i in range(n):
                h = 1e-5 * (1 if i < nk else scale_f)
                step = np.zeros(n)
                step[i] = h
                hessian[:, i] = (chart(step) - chart(-step)) / (2 * h)
            hessian = 0.5 * (hessian + hessian.T)
            damping, delta = 0.0, None
            for _ in range(30):
                try:
                    np.linalg.cholesky(hessian + damping * np.eye(n))
                    delta = np.linalg.solve(hessian + damping * np.eye(n), -g0)
                    break
                except np.linalg.LinAlgError:
                    damping = 1e-12 * max(np.abs(hessian).max(), 1e-300) if damping == 0 else 10 * damping
            if delta is None:
                break
            basis = q + perp @ delta[:nk].reshape(rank, r - rank).T
            moved = e + delta[nk:].reshape(k, rank).T
            if not (np.all(np.isfinite(basis)) and np.all(np.isfinite(moved))):
                break
            nq, rr = np.linalg.qr(basis)
            ne = rr @ moved
            nres = self.residual(nq @ ne, rank)
            if not (math.isfinite(nres) and nres <= 2 * res + 1e-16):
                break
            size = np.linalg.norm(q @ e)
            step_size = np.linalg.norm(nq @ ne - q @ e)
            q, e, res = nq, ne, nres
            if step_size <= 1e-15 * size or step_size > 0.5 * last:
                break
            last = step_size
        return q, e, res

    def factored_objective(self, q, e):
        data = np.sum((q @ e * self.s - self.b) ** 2)
        sigma = np.linalg.svd(e, compute_uv=False) if e.size else []
        return 0.5 * self.gamma * data + self.mu * sum(v ** self.p for v in sigma if v > 0)


def factor(d, max_rank):
    u, sigma, vt = np.linalg.svd(d, full_matrices=False)
    rank = min(svd_rank(sigma, 1e-12), max_rank)
    return u[:, :rank], sigma[:rank, None] * vt[:rank]


def kept_direction_search(problem, directions, max_kept):
    """Every subset of the ridge directions (up to 8 of them), else a local search; the least polished."""
    rho = directions.shape[1]

    def candidate(kept):
        cols = [j for j in range(rho) if kept[j]]
        if not cols:
            q, e = np.zeros((directions.shape[0], 0)), np.zeros((0, len(problem.s)))
        else:
            q, e = problem.descend(directions[:, cols])
        return kept, q, e, problem.factored_objective(q, e)

    def settle(rough):
        lowest = min(c[3] for c in rough)
        near = sorted((c for c in rough if c[3] <= lowest + 1e-6 * max(abs(lowest), 1e-300)), key=lambda c: c[3])
        distinct = []
        for c in near:
            d = c[1] @ c[2]
            if any(np.linalg.norm(o - d) <= 1e-8 * max(np.linalg.norm(d), np.linalg.norm(o), 1e-300) for o, _ in distinct):
                continue
            distinct.append((d, c))
        polished = []
        for _, c in distinct:
            q, e, res = problem.newton(c[1], c[2])
            polished.append((c[0], q, e, problem.factored_objective(q, e), res))
        passing = [c for c in polished if c[4] <= 1e-12]
        if not passing:
            raise ValueError("the target could not be polished to 1e-12")
        return min(passing, key=lambda c: c[3])

    if rho <= 8:
        rough = [candidate([mask & (1 << j) != 0 for j in range(rho)])
                 for mask in range(1 << rho) if bin(mask).count("1") <= max_kept]
        return settle(rough)
    visited, prefixes = set(), []
    for j in range(max_kept + 1):
        kept = tuple(i < j for i in range(rho))
        visited.add(kept)
        prefixes.append(candidate(list(kept)))
    current = settle(prefixes)
    for _ in range(4 * rho):
        kept = list(current[0])
        inside = [i for i in range(rho) if kept[i]]
        outside = [i for i in range(rho) if not kept[i]]
        moves = []
        if len(inside) < max_kept:
            moves += [[k or i == j for i, k in enumerate(kept)] for j in outside]
        moves += [[k and i != j for i, k in enumerate(kept)] for j in inside]
        moves += [[(k and i != a) or i == b for i, k in enumerate(kept)] for a in inside for b in outside]
        rough = []
        for move in moves:
            if tuple(move) not in visited:
                visited.add(tuple(move))
                rough.append(candidate(move))
        moved = False
        for c in sorted((c for c in rough if c[3] <= current[3] + 1e-6 * max(abs(current[3]), 1e-300)), key=lambda c: c[3]):
            q, e, res = problem.newton(c[1], c[2])
            value = problem.factored_objective(q, e)
            if res <= 1e-12 and value < current[3] - 1e-12 * abs(current[3]):
                current, moved = (c[0], q, e, value, res), True
                break
        if not moved:
            break
    return current


def training_target(x, u, s, v, gamma, lam, depth, max_rank):
    """(W*_lambda U (d x k), how it was found, its first-order residual): the global minimizer of
    the training objective restricted to range(U) (docs/MODEL.md section 4)."""
    xu, xs, _ = np.linalg.svd(x, full_matrices=False)
    c = xu[:, : max(1, svd_rank(xs, 1e-10))]
    b = c.T @ (x @ v)
    if lam == 0:
        return c @ (b / s), "closed-form", Schatten(b, s, gamma, 0, 2, math.inf).residual(b / s, 0)
    limit = math.inf if depth == 1 else max(0, max_rank)
    problem = Schatten(b, s, gamma, lam * depth / 2, 2 / depth, limit)
    ridge = b * (gamma * s / (gamma * s * s + lam))
    ru, rs, rvt = np.linalg.svd(ridge, full_matrices=False)
    ridge_rank = svd_rank(rs, 1e-12)
    if depth == 1:
        return c @ ridge, "closed-form", problem.residual(ridge, ridge_rank)
    if depth == 2:
        starts = [ridge]
        if ridge_rank > limit:
            starts = [np.zeros_like(ridge)] + [(ru[:, :j] * rs[:j]) @ rvt[:j] for j in range(1, ridge_rank) if j <= limit]
        best = None
        for start in starts:
            q, e, res = problem.newton(*factor(problem.polish(problem.minimize(start, 300)), limit))
            value = problem.factored_objective(q, e)
            if best is None or value < best[0]:
                best = (value, q @ e, res)
        if best[2] > 1e-12:
            raise ValueError("the target could not be polished to 1e-12")
        return c @ best[1], "convex" if len(starts) == 1 else "search", best[2]
    _, q, e, _, res = kept_direction_search(problem, ru[:, :ridge_rank], min(ridge_rank, limit))
    return c @ (q @ e), "exhaustive" if ridge_rank <= 8 else "search", res


# --- One run -----------------------------------------------------------------------------------

def run_task(spec):
    p, model, t = spec["problem"], spec["model"], spec["training"]
    if model.get("kind") is not None:
        raise ValueError(f"only the deep linear network, not model kind {model['kind']}")
    if t["optimizer"] != "gd" or t.get("stepRule") not in (None, "fixed") or p["measurementOperator"] != "gaussian":
        raise ValueError("only gd with a fixed step on a gaussian operator")
    a, basis, x, test_signals, test_noise = generate_problem(p, int(spec["seeds"]["problem"]))
    m, d, n = p["measurements"], p["signalDim"], p["samples"]
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
    yu, ys, yvt = np.linalg.svd(y, full_matrices=False)
    eta = number(t["eta"]) if t.get("eta") is not None else number(t["etaScale"]) / (depth * gamma * ys[0] * ys[0])
    decay = 1.0 - eta * lam_layer
    k = svd_rank(ys, 1e-12)
    u_y, s_y, v_y = yu[:, :k], ys[:k], yvt[:k].T
    check_every = t["checkEvery"]
    log_every = t.get("logEvery")
    # PROTOCOL.md, Trajectories: step 0, then t + max(1, t // g) after each logged step t, and
    # the last step. (lossGap needs F(W*); this worker omits it, as the protocol allows.)
    log_density = t.get("logDensity")
    ar = a @ basis
    u, s, _ = np.linalg.svd(ar, full_matrices=False)
    ar_basis = u[:, : svd_rank(s, 1e-10)]
    x_norm = max(np.linalg.norm(x), LEAST_NORMAL)
    oracle = basis @ np.linalg.pinv(ar, rcond=max(1e-10, max(ar.shape) * np.finfo(np.float64).eps))
    oracle_norm = max(np.linalg.norm(oracle), LEAST_NORMAL)
    basis_norm = np.linalg.norm(basis)
    width = weights[0].shape[0]
    target, target_method, target_residual = training_target(x, u_y, s_y, v_y, gamma, lam_layer, depth,
                                                              min(width, m, d) if depth > 1 else math.inf)

    def loss():
        data = np.linalg.norm(end_to_end(weights) @ y - x) ** 2
        return 0.5 * gamma * data + 0.5 * lam_layer * sum(np.linalg.norm(w) ** 2 for w in weights)

    def rec_error():
        return np.linalg.norm(end_to_end(weights) @ ar - basis)

    def off_error(w):
        return np.linalg.norm(w - (w @ ar_basis) @ ar_basis.T)

    def target_error(w):
        on_range = np.linalg.norm(w @ u_y - target)
        return np.linalg.norm(w - target @ u_y.T) if lam > 0 else on_range

    def gradient_norm():
        forward = [weights[0]]
        for l in range(1, depth):
            forward.append(weights[l] @ forward[-1])
        delta = gamma * ((forward[-1] @ y - x) @ y.T)
        total = 0.0
        for l in range(depth - 1, 0, -1):
            total += np.linalg.norm(delta @ forward[l - 1].T + lam_layer * weights[l]) ** 2
            delta = weights[l].T @ delta
        total += np.linalg.norm(delta + lam_layer * weights[0]) ** 2
        return math.sqrt(total)

    def balance_gaps():
        return [weights[l + 1].T @ weights[l + 1] - weights[l] @ weights[l].T for l in range(depth - 1)]

    def balancedness():
        return max((np.linalg.norm(g) for g in balance_gaps()), default=0.0)

    initial_gaps = balance_gaps()

    def point(step):
        w = end_to_end(weights)
        return {"step": step, "loss": loss(), "trainResidual": np.linalg.norm(w @ y - x) / x_norm,
                "reconstructionError": rec_error(), "offSubspaceError": off_error(w),
                "targetDistance": target_error(w) / oracle_norm,
                "gradientNorm": gradient_norm() / max(initial_gradient, LEAST_NORMAL),
                "balancedness": balancedness(), "flowTime": eta * step,
                "singularValues": [float(v) for v in np.linalg.svd(w, compute_uv=False)]}

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

    # The step budget (docs/MODEL.md section 4).
    tol_conv, tol_grad = number(t["tolConv"]), number(t["tolGrad"])
    tol_rec, tol_off = number(t["tolRec"]), number(t["tolOff"])
    capped = False
    if t["steps"] == "auto":
        if decay < 1:
            w1 = weights[0]
            outside = math.sqrt(max(0.0, np.linalg.norm(w1) ** 2 - np.linalg.norm(w1 @ u_y) ** 2))
            scale = max(outside, target_error(end_to_end(weights)))
            ratio = max(scale / (tol_conv * oracle_norm), math.e)
            estimate = math.ceil(number(t["budgetFactor"]) * math.log(ratio) / -math.log(decay))
            if not estimate < t["maxSteps"]:
                steps, capped = t["maxSteps"], True
            else:
                steps = max(1, int(estimate))
        else:
            steps = t["maxSteps"]
    else:
        steps = t["steps"]

    started = time.time()
    initial = loss()
    initial_gradient = gradient_norm()
    diverged = not math.isfinite(initial) or not math.isfinite(initial_gradient)
    first = {"converged": None, "recovered": None, "stationary": None}
    trajectory = []
    iterations = 0

    def check(at):
        # Every outcome measured exactly at every check (what the Swift core's predictions reproduce).
        w = end_to_end(weights)
        if first["converged"] is None and target_error(w) <= tol_conv * oracle_norm:
            first["converged"] = at
        if first["recovered"] is None and rec_error() <= tol_rec * basis_norm and off_error(w) <= tol_off * oracle_norm:
            first["recovered"] = at
        if first["stationary"] is None and first["converged"] is None \
                and gradient_norm() / max(initial_gradient, LEAST_NORMAL) <= tol_grad:
            first["stationary"] = at

    next_logged = [0]
    logging_on = [log_every is not None or log_density is not None]

    def log(at):
        # A point with a non-finite value ends the trajectory (the run is diverging).
        if not logging_on[0]:
            return
        p = point(at)
        values = [v for k, v in p.items() if k not in ("step", "singularValues")] + p["singularValues"]
        if not all(math.isfinite(v) for v in values):
            logging_on[0] = False
            return
        trajectory.append(p)
        if log_density is not None:
            next_logged[0] = at + max(1, at // log_density)

    def wants(at):
        if not logging_on[0]:
            return False
        if log_every is not None:
            return at % log_every == 0
        return log_density is not None and at == next_logged[0]

    if logging_on[0] and not diverged:
        log(0)
    if not diverged:
        check(0)
    stop = t["stopOnSuccess"]
    if not (stop and first["converged"] is not None) and not diverged and steps > 0:
        for it in range(1, steps + 1):
            step()
            iterations = it
            if it % check_every == 0 or it == steps:
                current = loss()
                if not math.isfinite(current) or current > 1e6 * max(initial, LEAST_NORMAL):
                    diverged = True
                    break
                check(it)
                if stop and first["converged"] is not None:
                    break
            if wants(it):
                log(it)
    if log_density is not None and not diverged and logging_on[0] and (not trajectory or trajectory[-1]["step"] < iterations):
        log(iterations)
    seconds = time.time() - started

    levels = [number(v) for v in t["testNoise"]]
    w = end_to_end(weights)

    def test_error(mat, level):
        y_test = a @ test_signals
        if level > 0:
            y_test = y_test + level * test_noise
        errors = np.linalg.norm(mat @ y_test - test_signals, axis=0)
        norms = np.linalg.norm(test_signals, axis=0)
        ratios = np.where(norms > 0, errors / np.where(norms > 0, norms, 1), 0.0)
        return float(np.sum(ratios) / max(1, test_signals.shape[1]))

    # lossGapRate is not measured here (it needs F(W*)); the protocol lets a worker omit it.
    report = {"iterations": iterations, "trainSeconds": seconds, "stepBudget": steps, "budgetCapped": capped,
              "flowTime": eta * iterations, "targetMethod": target_method, "targetResidual": float(target_residual),
              "oracleNorm": float(oracle_norm), "oracleTestError": [test_error(oracle, v) for v in levels]}
    if trajectory:
        report["trajectory"] = trajectory
    if diverged or not np.all(np.isfinite(w)):
        nan = math.nan
        report.update(trainResidual=nan, reconstructionError=nan, offSubspaceError=nan, oracleDistance=nan,
                      targetDistance=nan, gradientNorm=nan, testError=[nan] * len(levels), balancedness=nan,
                      effectiveRank=0, diverged=True, converged=False, recovered=False, stationary=False)
        return report
    rec = rec_error()
    off = off_error(w)
    distance = target_error(w) / oracle_norm
    converged = bool(distance <= tol_conv)
    recovered = bool(rec <= tol_rec * basis_norm and off <= tol_off * oracle_norm)
    if converged and first["converged"] is None:
        first["converged"] = iterations
    if recovered and first["recovered"] is None:
        first["recovered"] = iterations
    for name in ("converged", "recovered", "stationary"):
        if first[name] is not None:
            report[name + "At"] = first[name]
    values = np.linalg.svd(w, compute_uv=False)
    rank = int(np.sum(values > float(t["rankTolerance"]) * values[0])) if values[0] > 0 else 0
    # The best rank-k gap (MODEL.md section 5): min over rank <= k of ||W Y - X||^2 is
    # ||X||^2 - sum_{i<=k} sigma_i(X V)^2.
    x_squared = np.linalg.norm(x) ** 2
    xv_values = np.linalg.svd(x @ v_y, compute_uv=False)
    best = max(0.0, x_squared - float(np.sum(xv_values[:rank] ** 2)))
    if x_squared > 0:
        report["bestRankGap"] = float((np.linalg.norm(w @ y - x) ** 2 - best) / x_squared)
    report["balancednessDrift"] = max((float(np.linalg.norm(g - g0)) for g, g0 in zip(balance_gaps(), initial_gaps)),
                                      default=0.0)
    report.update(
        trainResidual=float(np.linalg.norm(w @ y - x) / x_norm), reconstructionError=float(rec),
        offSubspaceError=float(off),
        oracleDistance=float(np.linalg.norm(w - oracle) / oracle_norm),
        targetDistance=float(distance),
        gradientNorm=float(gradient_norm() / max(initial_gradient, LEAST_NORMAL)),
        testError=[test_error(w, v) for v in levels],
        balancedness=float(balancedness()), effectiveRank=rank, diverged=False,
        converged=converged, recovered=recovered, stationary=bool(first["stationary"] is not None and not converged))
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
             "pid": os.getpid(), "cores": 1, "blasThreads": 1, "capabilities": ["gd", "plain"], "prefetch": 1,
             "session": None}
    registered = False
    fingerprint = None
    session = None  # the last welcome's token: every later message carries it
    unsettled = {}  # taskID -> (sweep, kind, body without the session), until acknowledged
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
            send(frame("heartbeat", {"session": session, "sentAt": now}) if registered
                 else frame("hello", dict(hello, session=session)))
        if not sock.poll(100):
            continue
        messages = decode(sock.recv())
        last_heard = time.time()
        for kind, body in messages:
            if kind == "welcome":
                registered, fingerprint, session = True, body["fingerprint"], body["session"]
                timeout = number(body["workerTimeout"])
                for task_id in [k for k, (sweep, _, _) in unsettled.items() if sweep != fingerprint]:
                    del unsettled[task_id]
                for _, answer_kind, answer in unsettled.values():
                    send(frame(answer_kind, dict(answer, session=session)))
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
                    answer_kind = "result"
                except Exception as error:  # the run threw: a failure of the task itself
                    answer["reason"] = f"{type(error).__name__}: {error}"
                    answer_kind = "task_failed"
                unsettled[body["taskID"]] = (body["sweep"], answer_kind, answer)
                send(frame(answer_kind, dict(answer, session=session)))
            elif kind == "shutdown":
                return 0
            elif kind == "reject":
                print(f"protocol_worker: refused: {body.get('reason')}", file=sys.stderr)
                return 4


if __name__ == "__main__":
    sys.exit(main())
