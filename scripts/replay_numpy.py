#!/usr/bin/env python3
"""Replays dlsweep's gradient descent in float64 NumPy, for exact-replay checks.

Reads A.npy and X.npy from PROBLEM, W1.npy ... WL.npy from WEIGHTS, runs STEPS steps of
full-batch gradient descent with weight decay on
    F = 1/2 ||W_L ... W_1 Y - X||_F^2 + lambda/2 sum_l ||W_l||_F^2,   Y = A X,
with the update W_l <- (1 - eta*lambda) W_l - eta * grad_l (MODEL.md section 2), and writes the
final W1.npy ... WL.npy to OUT. The plain Gram form is used: grad of the end-to-end map
W is W (Y Y^T) - X Y^T.

usage: replay_numpy.py PROBLEM WEIGHTS OUT --eta ETA --lambda LAMBDA --steps STEPS
"""
import argparse
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("problem")
    parser.add_argument("weights")
    parser.add_argument("out")
    parser.add_argument("--eta", type=float, required=True)
    parser.add_argument("--lambda", dest="lam", type=float, required=True)
    parser.add_argument("--steps", type=int, required=True)
    args = parser.parse_args()

    a = np.load(os.path.join(args.problem, "A.npy"))
    x = np.load(os.path.join(args.problem, "X.npy"))
    weights = []
    while os.path.exists(os.path.join(args.weights, f"W{len(weights) + 1}.npy")):
        weights.append(np.load(os.path.join(args.weights, f"W{len(weights) + 1}.npy")).astype(np.float64))
    if not weights:
        raise SystemExit(f"{args.weights}: no W1.npy")

    y = a @ x
    yyt = y @ y.T
    xyt = x @ y.T
    decay = 1.0 - args.eta * args.lam
    depth = len(weights)
    for _ in range(args.steps):
        forward = [weights[0]]
        for l in range(1, depth):
            forward.append(weights[l] @ forward[-1])
        delta = forward[-1] @ yyt - xyt
        for l in range(depth - 1, 0, -1):
            below = weights[l].T @ delta
            weights[l] = decay * weights[l] - args.eta * (delta @ forward[l - 1].T)
            delta = below
        weights[0] = decay * weights[0] - args.eta * delta

    os.makedirs(args.out, exist_ok=True)
    for l, w in enumerate(weights):
        np.save(os.path.join(args.out, f"W{l + 1}.npy"), w)


if __name__ == "__main__":
    main()
