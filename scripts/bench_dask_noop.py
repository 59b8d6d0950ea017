#!/usr/bin/env python3
"""No-op tasks through Dask distributed: the figure `dlsweep bench dispatch --compare-dask` compares with.

A LocalCluster of --workers single-threaded worker processes runs --tasks tasks that return
at once; the last line printed is "tasks_per_second <value>" (wall time from the first
submission to the last result, the cluster already started).
"""
import argparse
import time


def noop(i):
    return i


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        client.wait_for_workers(args.workers)
        wait(client.map(noop, range(100), pure=False))  # warm-up: connections, imports
        started = time.perf_counter()
        futures = client.map(noop, range(args.tasks), pure=False)
        wait(futures)
        seconds = time.perf_counter() - started
        del futures
    print(f"dask: {args.tasks} no-op tasks on {args.workers} single-threaded worker processes in {seconds:.2f} s")
    print(f"tasks_per_second {args.tasks / seconds:.1f}")


if __name__ == "__main__":
    main()
