#!/usr/bin/env python3
"""A stand-in for the dlsweep binary, for testing the cluster scripts alone.

It speaks the same command line as dlsweep's `coordinator` and `worker`
subcommands (plain TCP and JSON lines instead of ZeroMQ) and keeps the same
observable behaviour the scripts rely on: the coordinator writes
OUT/results.sqlite with a `results` table while it runs, reassigns a task whose
worker stops heartbeating for --worker-timeout seconds, writes OUT/table.{csv,
json,md}, prints the table and exits 0; a worker exits 0 when told the sweep
is done and non-zero after --reconnect-timeout seconds without a coordinator.
The task count is `fake_tasks: N` in CONFIG (default 40), each task sleeps
`fake_task_seconds: S` (default 0.2).
"""
import argparse
import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time


def parse_endpoint(text):
    m = re.fullmatch(r"tcp://([^:]+):(\d+|\*)", text)
    if not m:
        sys.exit(f"fake-dlsweep: bad endpoint {text!r}")
    host = "0.0.0.0" if m.group(1) == "*" else m.group(1)
    return host, 0 if m.group(2) == "*" else int(m.group(2))


def coordinator(args):
    config = open(args.config).read()
    count = int((re.search(r"fake_tasks:\s*(\d+)", config) or [0, 40])[1])
    seconds = float((re.search(r"fake_task_seconds:\s*([\d.]+)", config) or [0, 0.2])[1])
    os.makedirs(args.out, exist_ok=True)
    db = sqlite3.connect(os.path.join(args.out, "results.sqlite"), check_same_thread=False)
    db.execute("create table if not exists results (task integer primary key, worker text, finished real)")
    db.commit()
    lock = threading.Lock()
    pending = list(range(count))
    running = {}  # task -> (peer, deadline)
    done = set(r[0] for r in db.execute("select task from results"))
    pending = [t for t in pending if t not in done]

    def serve(conn, peer):
        conn.settimeout(1.0)
        buf = b""
        mine = None
        while True:
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                with lock:
                    if mine is not None and mine in running and running[mine][0] == peer:
                        running[mine] = (peer, time.time() + args.worker_timeout)
                    if msg["type"] == "result":
                        t = msg["task"]
                        running.pop(t, None)
                        if t not in done:
                            done.add(t)
                            db.execute("insert or ignore into results values (?, ?, ?)", (t, msg["worker"], time.time()))
                            db.commit()
                            print(f"progress {len(done)}/{count} (task {t} from {msg['worker']})", file=sys.stderr, flush=True)
                        mine = None
                    if msg["type"] in ("ready", "result"):
                        if len(done) == count:
                            reply = {"type": "done"}
                        elif pending:
                            mine = pending.pop(0)
                            running[mine] = (peer, time.time() + args.worker_timeout)
                            reply = {"type": "task", "task": mine, "seconds": seconds}
                        else:
                            reply = {"type": "wait"}
                    else:
                        continue
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    return

    host, port = parse_endpoint(args.bind)
    server = socket.create_server((host, port), reuse_port=False)
    server.settimeout(0.5)
    bound = server.getsockname()
    with open(os.path.join(args.out, "coordinator.address"), "w") as f:
        f.write(f"tcp://{bound[0]}:{bound[1]}\n")
    print(f"coordinator listening on {args.bind}, {count} tasks", file=sys.stderr, flush=True)
    finished_at = None
    while True:
        try:
            conn, peer = server.accept()
            threading.Thread(target=serve, args=(conn, peer), daemon=True).start()
        except socket.timeout:
            pass
        with lock:
            now = time.time()
            for t, (peer, deadline) in list(running.items()):
                if deadline < now:
                    print(f"worker {peer} timed out; task {t} goes back", file=sys.stderr, flush=True)
                    del running[t]
                    pending.insert(0, t)
            if len(done) == count and finished_at is None:
                finished_at = now
        if finished_at is not None and time.time() - finished_at > 2 * args.heartbeat:
            break
    table = f"| tasks | done |\n| --- | --- |\n| {count} | {len(done)} |\n"
    open(os.path.join(args.out, "table.md"), "w").write(table)
    open(os.path.join(args.out, "table.csv"), "w").write(f"tasks,done\n{count},{len(done)}\n")
    open(os.path.join(args.out, "table.json"), "w").write(json.dumps({"tasks": count, "done": len(done)}))
    print(table, end="")
    return 0


def worker(args):
    host, port = parse_endpoint(args.connect)
    name = f"{socket.gethostname()}-{os.getpid()}"
    last_contact = time.time()
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=2)
        except OSError as error:
            if time.time() - last_contact > args.reconnect_timeout:
                print(f"worker: no coordinator for {args.reconnect_timeout}s ({error}); giving up", file=sys.stderr)
                return 1
            time.sleep(min(1.0, args.heartbeat))
            continue
        try:
            conn.settimeout(max(3 * args.heartbeat, 2))
            reader = conn.makefile("rb")
            conn.sendall(b'{"type": "ready"}\n')
            while True:
                line = reader.readline()
                if not line:
                    raise OSError("coordinator closed the connection")
                last_contact = time.time()
                msg = json.loads(line)
                if msg["type"] == "done":
                    print("worker: sweep done", file=sys.stderr)
                    return 0
                if msg["type"] == "wait":
                    time.sleep(args.heartbeat)
                    conn.sendall(b'{"type": "ready"}\n')
                    continue
                end = time.time() + msg["seconds"]
                while time.time() < end:
                    time.sleep(min(args.heartbeat, max(0.0, end - time.time())))
                    conn.sendall(b'{"type": "heartbeat"}\n')
                conn.sendall((json.dumps({"type": "result", "task": msg["task"], "worker": name}) + "\n").encode())
        except (OSError, ValueError) as error:
            print(f"worker: connection lost ({error}); reconnecting", file=sys.stderr, flush=True)
            conn.close()
            if time.time() - last_contact > args.reconnect_timeout:
                return 1
            time.sleep(min(1.0, args.heartbeat))


def main():
    parser = argparse.ArgumentParser(prog="fake-dlsweep")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("coordinator")
    c.add_argument("config")
    c.add_argument("--bind", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--heartbeat", type=float, default=1.0)
    c.add_argument("--worker-timeout", type=float, default=10.0)
    c.add_argument("--max-attempts", type=int, default=3)
    c.add_argument("--curve-key")
    c.add_argument("--authorized-keys")
    w = sub.add_parser("worker")
    w.add_argument("--connect", required=True)
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--processes")
    w.add_argument("--heartbeat", type=float, default=1.0)
    w.add_argument("--reconnect-timeout", type=float, default=600.0)
    w.add_argument("--curve-key")
    w.add_argument("--server-key")
    k = sub.add_parser("keys")
    k.add_argument("action", choices=["generate"])
    k.add_argument("name")
    k.add_argument("--force", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("dir")
    t.add_argument("--format", default="text")
    args = parser.parse_args()
    if args.command == "keys":
        for suffix in ("key", "pub"):
            with open(f"{args.name}.{suffix}", "w") as f:
                f.write(os.urandom(20).hex() + "\n")
        return 0
    if args.command == "table":
        db = sqlite3.connect(os.path.join(args.dir, "results.sqlite"))
        n = db.execute("select count(*) from results").fetchone()[0]
        print(f"tasks done,{n}" if args.format == "csv" else f"| done |\n| --- |\n| {n} |")
        return 0
    if args.curve_key:
        open(args.curve_key).read()  # the key must be readable where the process runs
    return coordinator(args) if args.command == "coordinator" else worker(args)


if __name__ == "__main__":
    sys.exit(main())
