#!/usr/bin/env python3
"""Round trips of a plain HTTP/1.1 client against the real `gitops-lab sandbox serve`.

The client is Python's own http.client over one kept-alive HTTPS connection per writer (no
Kubernetes library, no connection pool): what "any HTTP/1.1 client" costs the sandbox. It starts
the binary on a fresh data directory (BENCH_DIR, default the system temp dir: use a real disk),
then measures, in order:

  floors      fdatasync of a 4 KiB overwrite, of a 4 KiB append, and of 8 scattered 4 KiB
              overwrites, in the data directory
  version     GET /version (TLS, HTTP, routing; no store)
  dry-run     POST a ConfigMap with dryRun=All (decoding, admission; no commit)
  create      POST a ConfigMap (a durable commit)
  patch       merge PATCH of one ConfigMap (a durable commit)
  get         GET of one ConfigMap
  writers     creates from 1 and from 32 concurrent connections for a few seconds: commits per second,
              the server's and this client's CPU per create, the server's context switches per create

and prints a Markdown table (milliseconds; median, p99, and the server process's CPU time per call
from /proc, which other processes' load does not inflate) and the throughput ratio.

    python3 crates/sandbox/benches/plain_http.py --bin target/release/gitops-lab [--ops 2000] [--seconds 5]
        [--writers-only]   (only the throughput runs; the server's pid goes to stderr, for perf -p)
"""

import argparse
import base64
import http.client
import json
import os
import random
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def start_sandbox(binary, data_dir):
    """Starts `sandbox serve` and returns (process, host, port, ssl context, token)."""
    proc = subprocess.Popen(
        [binary, "sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "GITOPS_LAB_LANG": "en"},
    )
    server = kubeconfig = None
    for line in proc.stdout:
        if line.startswith("server: "):
            server = line.split(": ", 1)[1].strip()
        if line.startswith("kubeconfig: "):
            kubeconfig = line.split(": ", 1)[1].strip()
            break
    text = open(kubeconfig).read()
    ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)).decode()
    token = re.search(r"token: (\S+)", text).group(1)
    context = ssl.create_default_context(cadata=ca)
    host, port = server.removeprefix("https://").rsplit(":", 1)
    return proc, host, int(port), context, token


class Client:
    """One kept-alive HTTPS connection."""

    def __init__(self, host, port, context, token):
        self.conn = http.client.HTTPSConnection(host, port, context=context)
        self.auth = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, content_type="application/json"):
        headers = dict(self.auth)
        if body is not None:
            headers["Content-Type"] = content_type
            body = json.dumps(body).encode()
        self.conn.request(method, path, body=body, headers=headers)
        answer = self.conn.getresponse()
        data = answer.read()
        if answer.status >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status} {data[:200]!r}")
        return data


def config_map(name):
    return {"metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"greeting": "hello", "n": name}}


def server_cpu(pid):
    """CPU seconds (user + system) the server process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_switches(pid):
    """Context switches (voluntary and not) of all the server's threads so far: each one a thread
    that blocked or was preempted; the hand-offs between threads show here."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            text = open(f"/proc/{pid}/task/{task}/status").read()
        except OSError:
            continue  # the thread ended meanwhile
        total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return total


def timed(n, step, pid=None):
    """Runs `step` n times; the samples, and the server's CPU milliseconds per call if `pid` is given."""
    samples = []
    cpu = server_cpu(pid) if pid else 0
    for i in range(n):
        started = time.perf_counter()
        step(i)
        samples.append(time.perf_counter() - started)
    return samples, ((server_cpu(pid) - cpu) * 1000 / n if pid else None)


def floors(directory, n):
    """fdatasync of a 4 KiB overwrite, of a 4 KiB append (the file grows), and of eight 4 KiB
    pages overwritten at scattered offsets of a 4 MiB file (what one redb commit writes)."""
    block = os.urandom(4096)
    rows = {}
    cases = (("overwrite", lambda i: [0]), ("append", lambda i: [i + 1]),
             ("x 8 scattered overwrites", lambda i: random.sample(range(1024), 8)))
    for name, pages in cases:
        path = os.path.join(directory, f"floor-{len(rows)}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, bytes(4 << 20), 0)
        os.fsync(fd)
        samples = []
        for i in range(n):
            started = time.perf_counter()
            for page in pages(i):
                os.pwrite(fd, block, (page + (1024 if name == "append" else 0)) * 4096)
            os.fdatasync(fd)
            samples.append(time.perf_counter() - started)
        os.close(fd)
        os.unlink(path)
        rows[name] = samples
    return rows


def throughput(connect, writers, seconds, tag, pid):
    """Creates from `writers` connections for `seconds`: commits per second, and the server's CPU
    milliseconds per create and this client's (with a fast disk, the two cores are what bounds many
    writers, and the client's Python threads use part of them), and the server's context switches
    per create."""
    counts = [0] * writers
    stop = time.perf_counter() + seconds

    def writer(w):
        client = connect()
        i = 0
        while time.perf_counter() < stop:
            client.call("POST", "/api/v1/namespaces/default/configmaps", config_map(f"{tag}-{w}-{i}"))
            i += 1
        counts[w] = i

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    cpu, client_cpu, switches = server_cpu(pid), time.process_time(), server_switches(pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    done = max(1, sum(counts))
    return (sum(counts) / elapsed, (server_cpu(pid) - cpu) * 1000 / done,
            (time.process_time() - client_cpu) * 1000 / done, (server_switches(pid) - switches) / done)


def ms(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def verb_rows(client, data_dir, ops, pid):
    """The floors, then each verb's round trips: name -> (samples, server CPU ms per call)."""
    rows = {f"floor: fdatasync, 4 KiB {k}": (v, None) for k, v in floors(data_dir, ops).items()}
    path = "/api/v1/namespaces/default/configmaps"
    rows["GET /version"] = timed(ops, lambda i: client.call("GET", "/version"), pid)
    rows["create, dryRun=All"] = timed(
        ops, lambda i: client.call("POST", path + "?dryRun=All", config_map(f"d-{i}")), pid)
    rows["create"] = timed(ops, lambda i: client.call("POST", path, config_map(f"c-{i}")), pid)
    rows["merge patch"] = timed(ops, lambda i: client.call(
        "PATCH", path + "/c-0", {"data": {"n": str(i)}}, "application/merge-patch+json"), pid)
    rows["GET one ConfigMap"] = timed(ops, lambda i: client.call("GET", path + "/c-0"), pid)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the gitops-lab binary (a release build)")
    parser.add_argument("--ops", type=int, default=2000, help="round trips per measured verb")
    parser.add_argument("--seconds", type=float, default=5, help="length of each throughput run")
    parser.add_argument("--writers", type=int, default=32, help="concurrent writers of the second throughput run")
    parser.add_argument("--writers-only", action="store_true",
                        help="only the throughput runs (e.g. to profile the server under many writers)")
    args = parser.parse_args()
    base = os.environ.get("BENCH_DIR") or tempfile.gettempdir()
    with tempfile.TemporaryDirectory(dir=base) as temp:
        proc, host, port, context, token = start_sandbox(args.bin, os.path.join(temp, "data"))
        try:
            connect = lambda: Client(host, port, context, token)
            client = connect()
            client.call("GET", "/version")
            pid = proc.pid
            print(f"server pid {pid}", file=sys.stderr, flush=True)
            rows = {}
            if not args.writers_only:
                rows = verb_rows(client, os.path.join(temp, "data"), args.ops, pid)
            one = throughput(connect, 1, args.seconds, "one", pid)
            many = throughput(connect, args.writers, args.seconds, "many", pid)
        finally:
            proc.terminate()
            proc.wait()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}; {args.ops} round trips per row\n")
    print("| measurement | median ms | p99 ms | server CPU ms per call |\n|---|---:|---:|---:|")
    for name, (samples, cpu) in rows.items():
        cpu_text = "" if cpu is None else f"{cpu:.3f}"
        print(f"| {name} | {statistics.median(samples) * 1000:.3f} | {ms(samples, 0.99):.3f} | {cpu_text} |")
    print("\n| writers | creates/s | server CPU ms per create | client CPU ms per create | server context switches per create |")
    print("|---|---:|---:|---:|---:|")
    for writers, (rate, cpu, client_cpu, switches) in ((1, one), (args.writers, many)):
        print(f"| {writers} | {rate:.0f} | {cpu:.3f} | {client_cpu:.3f} | {switches:.1f} |")
    print(f"\n{args.writers} writers / 1 writer: {many[0] / one[0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
