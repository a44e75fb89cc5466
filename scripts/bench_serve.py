"""The studio under load: N clients stream text samples from one model at once for a while (server-sent events
over real HTTP, `seqgen serve` in its own process), then leave. Reported: errors, tokens per second of each
stream, the server's resident memory over the run (flat: no growth per token or per stream), and its threads
before, during and after (the samplers end when their clients go).

    python scripts/bench_serve.py --output benchmarks/serve.json    # 20 streams, 60 s
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"
sys.path.insert(0, str(ROOT))  # seqgen from this checkout

from seqgen.device import cpu_has_native_bf16, cpu_name  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stream(port: int, run: str, seconds: float, seed: int, result: dict) -> None:
    """One client: a sample far longer than `seconds` allows, read until the time is up, then the connection
    closed mid-stream (as a closed tab does)."""
    values = json.dumps({"length": 10_000_000, "seed": seed, "temperature": 0.8})
    path = f"/api/runs/{run}/stream?values={urllib.parse.quote(values)}"
    received, error = 0, None
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}: {response.read()[:200]!r}")
        start = time.perf_counter()
        kind = None
        while time.perf_counter() - start < seconds:
            line = response.fp.readline()
            if not line:
                raise RuntimeError("the stream ended early")
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: ") and kind == "part":
                received += len(json.loads(line[len("data: "):]))
            elif line.startswith("data: ") and kind in ("error", "end"):
                raise RuntimeError(f"{kind}: {line}")
        elapsed = time.perf_counter() - start
        connection.close()  # leave mid-stream
    except Exception as caught:  # noqa: BLE001
        error, elapsed = f"{type(caught).__name__}: {caught}", 1.0
    result.update(tokens=received, seconds=elapsed, error=error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    import seqgen

    folder = Path(tempfile.mkdtemp(prefix="seqgen-bench-serve-"))
    (folder / "corpus.txt").write_text(CORPUS.read_text(encoding="utf-8")[:200_000], encoding="utf-8")
    seqgen.train("language-model", corpus=str(folder / "corpus.txt"), max_steps=50, eval_interval=50,
                 hidden_size=args.hidden_size, num_layers=args.num_layers, device="cpu", progress=False,
                 output_dir=str(folder / "runs"), name="model")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "seqgen", "serve", "--output-dir", str(folder / "runs"),
                               "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start: {server.stderr.read() if server.poll() else ''}") from None
                time.sleep(0.2)
        warm = {}
        stream(port, "model", 3.0, 0, warm)  # loads the model once
        threads_before, memory = threads_of(server.pid), [(0.0, rss_mb(server.pid))]
        results = [{} for _ in range(args.streams)]
        clients = [threading.Thread(target=stream, args=(port, "model", args.seconds, seed + 1, results[seed]))
                   for seed in range(args.streams)]
        start = time.perf_counter()
        for client in clients:
            client.start()
        threads_during = 0
        while any(client.is_alive() for client in clients):
            time.sleep(2.0)
            memory.append((round(time.perf_counter() - start, 1), rss_mb(server.pid)))
            threads_during = max(threads_during, threads_of(server.pid))
        time.sleep(3.0)  # the samplers notice their clients left at their next token
        threads_after, memory_after = threads_of(server.pid), rss_mb(server.pid)
        cpu = cpu_seconds(server.pid)
        time.sleep(5.0)
        idle_cpu = (cpu_seconds(server.pid) - cpu) / 5.0  # ~0 once no sampler draws for a client that left
        still = {}
        stream(port, "model", 1.0, 99, still)
        alive = server.poll() is None and still["error"] is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    rates = [r["tokens"] / r["seconds"] for r in results if r.get("error") is None]
    errors = [r["error"] for r in results if r.get("error")]
    steady = [m for t, m in memory if 10.0 <= t <= args.seconds] or [m for _, m in memory]  # while streaming
    report = {
        "benchmark": "seqgen serve under load: concurrent text streams (server-sent events) from one model",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu": cpu_name(), "cpu_native_bf16": cpu_has_native_bf16(),
                    "cpus": os.cpu_count(), "load_average_at_end": list(os.getloadavg())},
        "model": {"hidden_size": args.hidden_size, "num_layers": args.num_layers, "tokenizer": "char"},
        "streams": args.streams, "seconds": args.seconds, "errors": errors,
        "tokens_per_second_per_stream": {"mean": statistics.mean(rates) if rates else 0.0,
                                         "min": min(rates, default=0.0), "max": max(rates, default=0.0)},
        "tokens_per_second_total": sum(rates),
        "server_rss_mb": {"before": memory[0][1], "steady_first": steady[0], "steady_last": steady[-1],
                          "steady_max": max(steady), "after_clients_left": memory_after, "samples": memory},
        "server_threads": {"before": threads_before, "most_during": threads_during, "after_clients_left": threads_after,
                           "note": "after: the idle worker threads of the server's thread pool stay"},
        "server_cpu_share_after_clients_left": idle_cpu,
        "server_answers_after": alive,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    if errors or not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
