#!/usr/bin/env python3
"""Times one gradient-descent step of a deep linear network in NumPy at the paper's Figure 1 size
(d=200, m=100, r=5, n=50, L=5, d_w=400, lambda=1e-3), written two ways:

- gram: the Gram form W (Y Y^T) - X Y^T on the full weights, what a user writes first;
- reduced: the reduced algorithm of docs/MODEL.md section 2 as an expert writes it with SciPy's
  BLAS. With Y = U S V^T (k = rank(Y) columns), it trains V_1 = W_1 U and W_2 ... W_L, keeps the
  forward products f_l = W_{l+1} ... W_2 V_1 between steps, passes the data gradient
  G = P S^2 - X V S (P = f_L, d x k) down with one dgemm per layer, and updates each layer with
  one in-place dgemm, W_l <- (1 - eta lambda) W_l - eta delta_l f_{l-1}^T (beta = 1 - eta lambda,
  Fortran-ordered W, overwrite_c), then forms its next forward product with one more.

Run it with one BLAS thread (OPENBLAS_NUM_THREADS=1) to compare with `dlsweep bench core`.
Prints `gram_step_seconds S` and `reduced_step_seconds S` (CPU time of the thread per step).
With --check it runs both forms from the same start for 30 steps instead and exits non-zero
unless their weights agree to 1e-9 (W_1 = V_1 U^T + (1 - eta lambda)^t W_1(0)(I - U U^T)).

usage: bench_numpy_step.py [--form gram|reduced|both] [--noise SIGMA] [--depth L] [--width DW]
                           [--seconds S] [--check]
"""
import argparse
import sys
import time

import numpy as np
from scipy.linalg import blas


def problem(args):
    rng = np.random.default_rng(1)
    d, m, r, n = args.signal_dim, args.measurements, args.latent_dim, args.samples
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    x = basis @ rng.standard_normal((r, n))
    a = rng.standard_normal((m, d)) / np.sqrt(m)
    y = a @ x + args.noise * rng.standard_normal((m, n))
    dims = [m] + [args.width] * (args.depth - 1) + [d]
    weights = [np.asfortranarray(rng.standard_normal((dims[l + 1], dims[l])) / np.sqrt(dims[l]))
               for l in range(args.depth)]
    eta = 0.5 / (args.depth * np.linalg.norm(y, 2) ** 2)
    return x, y, weights, eta


class Gram:
    """The user's first version: the full weights and the Gram matrices of the data."""

    def __init__(self, x, y, weights, eta, lam):
        self.yyt, self.xyt = y @ y.T, x @ y.T
        self.weights = [w.copy() for w in weights]
        self.eta, self.decay = eta, 1 - eta * lam

    def step(self):
        w, eta, decay = self.weights, self.eta, self.decay
        forward = [w[0]]
        for l in range(1, len(w)):
            forward.append(w[l] @ forward[-1])
        delta = forward[-1] @ self.yyt - self.xyt
        for l in range(len(w) - 1, 0, -1):
            below = w[l].T @ delta
            w[l] = decay * w[l] - eta * (delta @ forward[l - 1].T)
            delta = below
        w[0] = decay * w[0] - eta * delta


class Reduced:
    """The expert's version: k columns instead of m, BLAS-3 calls into preallocated buffers."""

    def __init__(self, x, y, weights, eta, lam):
        u, s, vt = np.linalg.svd(y, full_matrices=False)
        k = int(np.sum(s > s[0] * y.shape[0] * np.finfo(float).eps))
        self.u, s = np.asfortranarray(u[:, :k]), s[:k]
        self.s2 = s * s
        self.b = np.asfortranarray(x @ (vt[:k].T * s))  # X V S, d x k
        self.eta, self.decay = eta, 1 - eta * lam
        self.v = np.asfortranarray(weights[0] @ self.u)
        self.outside = weights[0] - self.v @ self.u.T
        self.outside_factor = 1.0
        self.upper = [w.copy(order="F") for w in weights[1:]]
        self.previous_v = self.v.copy(order="F")
        self.forward = [self.v] + [np.empty((w.shape[0], k), order="F") for w in self.upper]
        for l, w in enumerate(self.upper, start=1):
            np.matmul(w, self.forward[l - 1], out=self.forward[l])
        self.next_forward = [None] + [f.copy(order="F") for f in self.forward[1:]]
        self.delta = [f.copy(order="F") for f in self.forward]

    def step(self):
        upper, forward, nxt, delta = self.upper, self.forward, self.next_forward, self.delta
        last = len(upper)
        np.multiply(forward[last], self.s2, out=delta[last])
        delta[last] -= self.b
        for l in range(last, 0, -1):
            np.matmul(upper[l - 1].T, delta[l], out=delta[l - 1])
        self.previous_v[...] = self.v
        self.v *= self.decay
        self.v -= self.eta * delta[0]
        self.outside_factor *= self.decay
        for l in range(1, last + 1):
            old_input = self.previous_v if l == 1 else forward[l - 1]
            new_input = self.v if l == 1 else nxt[l - 1]
            w = blas.dgemm(-self.eta, delta[l], old_input, beta=self.decay, c=upper[l - 1], trans_b=True,
                           overwrite_c=True)
            assert w is upper[l - 1] or np.shares_memory(w, upper[l - 1]), "dgemm did not update W in place"
            np.matmul(upper[l - 1], new_input, out=nxt[l])
        self.forward, self.next_forward = [self.v] + nxt[1:], [None] + forward[1:]

    @property
    def weights(self):
        first = self.v @ self.u.T + self.outside_factor * self.outside
        return [first] + self.upper


def seconds_per_step(form, minimum):
    form.step()
    steps, start = 0, time.thread_time()  # CPU time of this thread, as `dlsweep bench core` measures
    while steps < 5 or time.thread_time() - start < minimum:
        form.step()
        steps += 1
    return (time.thread_time() - start) / steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--form", choices=["gram", "reduced", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds to time each form for")
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--signal-dim", type=int, default=200)
    parser.add_argument("--measurements", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=5)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--noise", type=float, default=0.0, help="sigma_train (rank(Y) = min(m, n) when > 0)")
    parser.add_argument("--lambda", dest="lam", type=float, default=1e-3)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    x, y, weights, eta = problem(args)

    if args.check:
        gram, reduced = Gram(x, y, weights, eta, args.lam), Reduced(x, y, weights, eta, args.lam)
        for _ in range(30):
            gram.step()
            reduced.step()
        worst = max(np.linalg.norm(a - b) / np.linalg.norm(a) for a, b in zip(gram.weights, reduced.weights))
        moved = np.linalg.norm(gram.weights[0] - weights[0]) / np.linalg.norm(weights[0])
        print(f"rank {reduced.u.shape[1]}: largest relative difference {worst:.2e}, W_1 moved {moved:.2e}")
        sys.exit(0 if worst < 1e-9 and moved > 1e-4 else 1)

    for name, form in (("gram", Gram), ("reduced", Reduced)):
        if args.form in (name, "both"):
            seconds = seconds_per_step(form(x, y, weights, eta, args.lam), args.seconds)
            print(f"{name}_step_seconds {seconds:.6e}")


if __name__ == "__main__":
    main()
