"""`ledger serve` as an operator runs it: a real process on a real port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from infra.services import Endpoints
from ledger.app.workspace import drop_workspace
from tests.integration.conftest import ledger_cli

pytestmark = pytest.mark.integration

start_timeout_s = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    workspace: str, *options: str, stdout: int = subprocess.DEVNULL
) -> tuple[str, subprocess.Popen[str]]:
    """A `ledger serve` of `workspace` on a free port, once it answers: (base URL, process)."""
    port = free_port()
    command = [sys.executable, "-m", "ledger", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workspace", workspace, *options],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base, process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"ledger serve did not answer: {process.communicate()}")


@pytest.fixture
def served(
    workspace_name: str, services: Endpoints
) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """(base URL, a vendor token, the server process) of a running `ledger serve`."""
    token = ledger_cli("tokens", "create", "--vendor", "987654325", "--workspace", workspace_name)
    vendor_token = token.stdout.strip().splitlines()[-1]
    base, process = start_server(workspace_name, stdout=subprocess.PIPE)
    yield base, vendor_token, process
    if process.poll() is None:
        process.kill()
        process.wait()
    asyncio.run(drop_workspace(services, workspace_name))


def test_serve_answers_documents_itself_and_stops_on_sigterm(
    served: tuple[str, str, subprocess.Popen[str]],
) -> None:
    base, token, process = served
    assert httpx.get(f"{base}/readyz", timeout=10).json() == {
        "status": "ready",
        "postgresql": True,
        "kafka": True,
    }
    spec = httpx.get(f"{base}/openapi.json").json()
    assert "/v1/events" in spec["paths"]
    docs = httpx.get(f"{base}/docs").text
    # Every asset of the docs page is served by the application itself: no CDN.
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs)
    assert assets and all(asset.startswith("/") for asset in assets), assets
    for asset in assets:
        assert httpx.get(f"{base}{asset}").status_code == 200, asset

    answer = httpx.post(
        f"{base}/v1/events",
        json=[{"event_id": "s-1"}],
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.json()["events"][0]["reason"] == "schema_violation"
    metrics = httpx.get(f"{base}/metrics").text
    assert 'ledger_events_refused_total{reason="schema_violation"} 1.0' in metrics
    assert 'route="/v1/events"' in metrics

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert time.monotonic() - started < 10
    _, stderr = process.communicate()
    assert token not in stderr
    assert "Traceback" not in stderr


def test_serve_refuses_a_port_in_use_with_one_line(workspace_name: str, services: object) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = ledger_cli(
            "serve", "--port", str(port), "--workspace", workspace_name, check=False
        )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot listen" in result.stderr
