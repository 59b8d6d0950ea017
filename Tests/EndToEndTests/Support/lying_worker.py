#!/usr/bin/env python3
"""A worker that lies well, for the tests only (it ships nowhere): scripts/protocol_worker.py,
speaking the protocol unchanged, with every result's test errors and gradient norm scaled by
DLSW_LIE_SCALE (default 1.25), each after DLSW_LIE_DELAY seconds (default 0.2: honest
workers started a moment later still find tasks to run). Its results are finite, consistent and pass every validation
rule; only a replay on another worker can tell them from the truth.

Usage: lying_worker.py ENDPOINT [protocol_worker.py options]
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
import protocol_worker  # noqa: E402

SCALE = float(os.environ.get("DLSW_LIE_SCALE", "1.25"))
DELAY = float(os.environ.get("DLSW_LIE_DELAY", "0.2"))
honest_run = protocol_worker.run_task


def lying_run(spec):
    report = honest_run(spec)
    time.sleep(DELAY)
    for name in ("testError", "oracleTestError"):
        if report.get(name) is not None:
            report[name] = [value * SCALE for value in report[name]]
    if report.get("gradientNorm") is not None:
        report["gradientNorm"] *= SCALE
    return report


protocol_worker.run_task = lying_run

if __name__ == "__main__":
    sys.exit(protocol_worker.main())
