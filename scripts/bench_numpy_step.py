#!/usr/bin/env python3
"""Times one gradient-descent step of a deep linear network in NumPy, in the Gram form
W (Y Y^T) - X Y^T, at the paper's Figure 1 size (d=200, m=100, r=5, n=50, L=5, d_w=400).
Run it with one BLAS thread (OPENBLAS_NUM_THREADS=1) to compare with `dlsweep bench core`.
Prints one line: `numpy_step_seconds <seconds>`.

usage: bench_numpy_step.py [--steps N] [--depth L] [--width DW]
"""
import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--signal-dim", type=int, default=200)
    parser.add_argument("--measurements", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=5)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    d, m, r, n, depth, width = args.signal_dim, args.measurements, args.latent_dim, args.samples, args.depth, args.width
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    x = basis @ rng.standard_normal((r, n))
    a = rng.standard_normal((m, d)) / np.sqrt(m)
    y = a @ x
    yyt, xyt = y @ y.T, x @ y.T
    dims = [m] + [width] * (depth - 1) + [d]
    weights = [rng.standard_normal((dims[l + 1], dims[l])) / np.sqrt(dims[l]) for l in range(depth)]
    eta = 0.5 / (depth * np.linalg.norm(y, 2) ** 2)
    lam, decay = 1e-3, 1 - eta * 1e-3

    def step():
        forward = [weights[0]]
        for l in range(1, depth):
            forward.append(weights[l] @ forward[-1])
        delta = forward[-1] @ yyt - xyt
        for l in range(depth - 1, 0, -1):
            below = weights[l].T @ delta
            weights[l] = decay * weights[l] - eta * (delta @ forward[l - 1].T)
            delta = below
        weights[0] = decay * weights[0] - eta * delta

    step()
    # CPU time of this thread, as `dlsweep bench core` measures (the machine may be shared).
    start = time.thread_time()
    for _ in range(args.steps):
        step()
    print(f"numpy_step_seconds {(time.thread_time() - start) / args.steps:.6e}")


if __name__ == "__main__":
    main()
