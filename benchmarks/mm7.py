"""MM7 SubmitReq throughput: our connector vs. the simulator's raw capacity (wrk), same run.

Starts the MMSC simulator in its own process (uvicorn, one worker, no delivery reports), then
1. `wrk` posts one canned single-recipient SubmitReq as fast as it can (raw capacity);
2. our connector submits freshly built SubmitReqs (1 and 100 recipients per request) with
   bounded concurrency through one shared httpx client.
Prints a table and the ratio connector / raw. Goal: >= 50 % of raw, >= 500 submits/s.

    .venv/bin/python benchmarks/mm7.py [--seconds 5] [--concurrency 16] [--pin]

On a shared box the figures move with other load (both raw runs are printed; the ratio uses
their mean); "connector CPU per request" is the load-independent cost of our side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.dispatch.connectors.base import Address, Priority, SubmitRequest  # noqa: E402
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client  # noqa: E402
from alerts.dispatch.mm7_cli import link_test_content  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "alerts.mmsc", "--port", str(port), "--log-level", "error"]
    proc = subprocess.Popen(cmd, cwd=REPO)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("simulator did not start")


def content():
    text = "Flash flood warning: leave zone A now. Go to high ground."
    return link_test_content(text, _png())


def _png() -> bytes:
    import io

    from PIL import Image

    image = Image.new("RGB", (320, 240), (210, 210, 210))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def request(tid: str, n: int, body) -> SubmitRequest:
    numbers = tuple(Address(f"+1555{i:07d}") for i in range(n))
    return SubmitRequest(tid, numbers, body, "Flood warning", Priority.HIGH)


def run_wrk(url: str, connector: Mm7Connector, body, seconds: int, connections: int) -> float:
    wrk = shutil.which("wrk")
    if wrk is None:
        subprocess.run(["bash", str(REPO / "scripts" / "system-deps.sh")], check=False)
        wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not installed (Debian package wrk)")
    canned = connector.build_submit(request("wrk-1", 1, body))
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "submit.bin"
        body_file.write_bytes(canned.body)
        script = Path(tmp) / "submit.lua"
        script.write_text(
            f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = [[{canned.content_type}]]\n'
            'wrk.headers["SOAPAction"] = [[""]]\n'
        )
        args = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(out)
    return float(match.group(1))


async def run_connector(config: Mm7Config, n: int, body, seconds: float, concurrency: int):
    ok = failed = 0
    async with mm7_client(config, max_connections=concurrency) as client:
        connector = Mm7Connector(config, client)
        deadline = time.monotonic() + seconds

        async def worker(w: int) -> None:
            nonlocal ok, failed
            i = 0
            while time.monotonic() < deadline:
                i += 1
                result = await connector.submit(request(f"b{w}-{i}", n, body))
                ok += result.ok
                failed += not result.ok

        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    CPU_MS[n] = cpu / max(1, ok + failed) * 1000
    return ok / elapsed, failed


def pin(simulator_pid: int) -> bool:
    """Simulator on the last CPU, this process (and wrk, its child) on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return False
    os.sched_setaffinity(simulator_pid, {cpus[-1]})
    os.sched_setaffinity(0, set(cpus[:-1]))
    return True


CPU_MS: dict[int, float] = {}


def stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5) as r:
        return json.load(r)


def reset(port: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/reset", method="POST")
    urllib.request.urlopen(req, timeout=5).read()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pin", action="store_true", help="simulator and client on own CPUs")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    url = f"http://127.0.0.1:{port}/mm7"
    proc = start_simulator(port)
    pinned = pin(proc.pid) if args.pin else False
    try:
        body = content()
        config = Mm7Config(url=url, vaspid="alertcast", sender_address="112", max_recipients=100)
        probe = Mm7Connector(config, None)  # type: ignore[arg-type]
        asyncio.run(run_connector(config, 1, body, 1.0, args.concurrency))  # warm-up
        raw = run_wrk(url, probe, body, args.seconds, args.concurrency)
        reset(port)
        one, fail_one = asyncio.run(run_connector(config, 1, body, args.seconds, args.concurrency))
        peak = stats(port)["peak_rps"]
        hundred, fail_100 = asyncio.run(
            run_connector(config, 100, body, args.seconds, max(2, args.concurrency // 4))
        )
        raw_after = run_wrk(url, probe, body, args.seconds, args.concurrency)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    load = os.getloadavg()[0]
    print(f"MM7 SubmitReq throughput, {args.seconds} s per run, MMS {body.size} bytes, ")
    print(f"{os.cpu_count()} CPUs, simulator pinned: {pinned}, load average at end: {load:.1f}")
    print(f"{'run':<44}{'req/s':>10}{'recipients/s':>14}{'errors':>8}")
    # raw capacity measured before and after the connector runs: the mean evens out drift
    print(f"{'simulator raw, wrk before (1 recipient)':<44}{raw:>10.0f}{raw:>14.0f}{0:>8}")
    print(
        f"{'simulator raw, wrk after (1 recipient)':<44}{raw_after:>10.0f}{raw_after:>14.0f}{0:>8}"
    )
    raw = (raw + raw_after) / 2
    print(f"{'connector, 1 recipient/request':<44}{one:>10.0f}{one:>14.0f}{fail_one:>8}")
    label = "connector, 100 recipients/request"
    print(f"{label:<44}{hundred:>10.0f}{hundred * 100:>14.0f}{fail_100:>8}")
    print(f"simulator peak observed (connector, 1/request): {peak} req/s")
    print(
        f"connector CPU per request: {CPU_MS[1]:.2f} ms (1 recipient), {CPU_MS[100]:.2f} ms (100)"
    )
    print(f"ratio connector / mean raw (1 recipient): {one / raw:.2f}  (goal >= 0.50)")
    print(f"single-recipient submits/s: {one:.0f}  (goal >= 500)")


if __name__ == "__main__":
    main()
