"""Sustained `POST /v1/events` throughput: a load generator on loopback against `ledger serve`.

Starts `ledger serve` on a fresh workspace (catalogue loaded, one vendor token), then
keeps `--concurrency` clients each sending batches of `--batch` events for
`--seconds`, and reports events/s acknowledged by Kafka (acks=all: the API answers
only then) with the request latency p50/p95/p99. The workspace is dropped afterwards.

    .venv/bin/python -m benchmarks.http_ingest_bench --seconds 30 --batch 1000 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from infra.services import ensure_services
from ledger.app.workspace import drop_workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = REPO_ROOT / "tests" / "integration" / "catalogue.yaml"
VENDOR = "987654325"
SCHOOLS = ("974626993", "974000008")
start_timeout_s = 60
events_per_s_ceiling = 40_000  # bodies are made for at most this rate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ledger(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ledger", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def _batch(run: str, number: int, size: int, rng: random.Random) -> bytes:
    events = [
        {
            "event_id": f"{run}-{number}-{index}",
            "vendor": VENDOR,
            "product": "matte-1-7",
            "school": SCHOOLS[index % 2],
            "learner": f"learner-{rng.randrange(20_000)}",
            "role": "pupil",
            "action": "open",
            "item": f"kap-{rng.randrange(40)}",
            "quantity": 1,
            "unit": "access",
            "occurred_at": "2026-10-05T08:15:00Z",
        }
        for index in range(size)
    ]
    return json.dumps(events).encode()


async def _client(
    base: str, token: str, bodies: list[bytes], batch: int, deadline: float
) -> tuple[int, list[float]]:
    sent, latencies = 0, []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for body in bodies:
            if time.monotonic() >= deadline:
                break
            started = time.monotonic()
            answer = await client.post("/v1/events", content=body, headers=headers)
            latencies.append(time.monotonic() - started)
            if answer.status_code != 200:
                raise SystemExit(f"POST /v1/events answered {answer.status_code}: {answer.text}")
            sent += batch
    return sent, latencies


def _bodies(run: str, client: int, args: argparse.Namespace) -> list[bytes]:
    """Every body a client may send, made before the clock starts: the generator's own
    JSON encoding must not compete with the server for the two cores."""
    rng = random.Random(client)
    count = int(args.seconds * events_per_s_ceiling / args.batch / args.concurrency) + 1
    return [_batch(run, client * 1_000_000 + n, args.batch, rng) for n in range(count)]


async def _load(base: str, token: str, args: argparse.Namespace) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    # Warm up (connections, the producer, the catalogue cache) before the clock starts.
    warm = [_batch(run + "w", n, args.batch, random.Random(n)) for n in range(3)]
    await _client(base, token, warm, args.batch, time.monotonic() + 60)
    bodies = [_bodies(run, client, args) for client in range(args.concurrency)]
    started = time.monotonic()
    deadline = started + args.seconds
    results = await asyncio.gather(
        *(_client(base, token, mine, args.batch, deadline) for mine in bodies)
    )
    elapsed = time.monotonic() - started
    sent = sum(count for count, _ in results)
    latencies = sorted(value for _, values in results for value in values)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "events": sent,
        "seconds": round(elapsed, 2),
        "events_per_s": round(sent / elapsed),
        "requests": len(latencies),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    endpoints = ensure_services()
    workspace = f"bench_http_{uuid.uuid4().hex[:8]}"
    _ledger("catalogue", "load", str(CATALOGUE), "--workspace", workspace)
    token = _ledger("tokens", "create", "--vendor", VENDOR, "--workspace", workspace)
    token = token.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "serve",
            "--port",
            str(port),
            "--workspace",
            workspace,
            "--requests-per-second",
            "100000",
            "--burst",
            "100000",
        ],
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("ledger serve did not become ready")
            time.sleep(0.2)
        figures = asyncio.run(_load(base, token, args))
        figures.update(batch=args.batch, concurrency=args.concurrency, cpus=os.cpu_count() or 0)
        print(json.dumps(figures))
    finally:
        server.terminate()
        server.wait(timeout=15)
        asyncio.run(drop_workspace(endpoints, workspace))


if __name__ == "__main__":
    main()
