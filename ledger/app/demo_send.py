"""Running the demo through the HTTP API, as vendors and the operator would.

Each vendor's request bodies are posted with that vendor's own token, a few at a time;
a 503 (the broker is away) or 429 (too fast) is retried after the server's
Retry-After, a bounded number of times. Settling goes through the admin endpoint,
which waits for the worker: a 503 `ledger_behind` there means "not yet".
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from ledger.demo.partnership import EventFile, read_manifest

concurrent_requests_default: Final = 4
concurrent_requests_max: Final = 16
attempts_max: Final = 30  # per request, for 503/429 and dropped connections
retry_after_s_max: Final = 30.0
retry_after_s_default: Final = 2.0
request_timeout_s: Final = 120.0
settle_wait_s_max: Final = 1800.0  # how long settling waits for the worker to catch up
tokens_max: Final = 1000  # lines of a tokens file

Tokens = Mapping[tuple[str, str], str]  # (scope, subject) -> token


class DemoSendError(Exception):
    """The server refused something the demo needs: one line, the user's to fix."""


@dataclass
class SendTotals:
    requests: int = 0
    events: int = 0
    refused: int = 0
    retries: int = 0
    refused_by_reason: Counter[str] = field(default_factory=Counter)


def read_tokens(path: Path) -> dict[tuple[str, str], str]:
    """A tokens file: one `<scope> <subject> <token>` per line (# comments allowed)."""
    tokens: dict[tuple[str, str], str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if number > tokens_max:
            raise DemoSendError(f"{path}: more than {tokens_max} lines")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise DemoSendError(f"{path} line {number}: expected `<scope> <subject> <token>`")
        tokens[(parts[0], parts[1])] = parts[2]
    return tokens


def files_of_part(folder: Path, part: str) -> list[EventFile]:
    """The request bodies of one send part (see the manifest's `parts`)."""
    manifest = read_manifest(folder)
    files, parts = manifest.get("files"), manifest.get("parts")
    if not isinstance(files, list) or not isinstance(parts, list):
        raise DemoSendError(f"{folder}: the manifest lists no files")
    if part not in parts:
        raise DemoSendError(f"no part {part!r}: the demo has {', '.join(map(str, parts))}")
    return [EventFile(**item) for item in files if item["part"] == part]


def _retry_after_s(response: httpx.Response) -> float:
    try:
        value = float(response.headers.get("retry-after", retry_after_s_default))
    except ValueError:
        value = retry_after_s_default
    return min(max(value, 0.1), retry_after_s_max)


async def _post_with_retries(
    client: httpx.AsyncClient, url: str, token: str, body: bytes, totals: SendTotals
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    for attempt in range(1, attempts_max + 1):
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TransportError as error:
            if attempt == attempts_max:
                raise DemoSendError(f"POST {url}: {error}") from error
            totals.retries += 1
            await asyncio.sleep(retry_after_s_default)
            continue
        if response.status_code in (429, 503) and attempt < attempts_max:
            totals.retries += 1
            await asyncio.sleep(_retry_after_s(response))
            continue
        return response
    raise DemoSendError(f"POST {url}: no answer after {attempts_max} attempts")


async def send_part(
    folder: Path,
    base_url: str,
    tokens: Tokens,
    part: str,
    *,
    concurrent_requests: int = concurrent_requests_default,
    progress: Callable[[int], None] | None = None,
) -> SendTotals:
    """Post every request body of `part` with its vendor's token; totals of the answers."""
    if not 1 <= concurrent_requests <= concurrent_requests_max:
        raise DemoSendError(f"concurrent requests must be 1 to {concurrent_requests_max}")
    files = files_of_part(folder, part)
    missing = sorted({f.vendor for f in files if ("vendor", f.vendor) not in tokens})
    if missing:
        raise DemoSendError(f"no vendor token for {', '.join(missing)} in the tokens file")
    totals = SendTotals()
    gate = asyncio.Semaphore(concurrent_requests)
    url = base_url.rstrip("/") + "/v1/events"

    async def send(client: httpx.AsyncClient, file: EventFile) -> None:
        body = (folder / file.path).read_bytes()
        async with gate:
            response = await _post_with_retries(
                client, url, tokens[("vendor", file.vendor)], body, totals
            )
        if response.status_code != 200:
            raise DemoSendError(
                f"POST {url} ({file.path}): {response.status_code} {response.text[:200]}"
            )
        answer = response.json()
        totals.requests += 1
        totals.events += int(answer["received"])
        totals.refused += int(answer["refused"])
        for event in answer["events"]:
            if event["reason"] is not None:
                totals.refused_by_reason[str(event["reason"])] += 1
        if int(answer["received"]) != file.events:
            raise DemoSendError(f"{file.path}: sent {file.events}, {answer['received']} received")
        if progress is not None:
            progress(file.events)

    limits = httpx.Limits(max_connections=concurrent_requests)
    async with httpx.AsyncClient(timeout=request_timeout_s, limits=limits) as client:
        await _gather_all(send(client, file) for file in files)
    return totals


async def _gather_all(jobs: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs; the first failure cancels the rest (no half-reported sends)."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


async def settle_through_api(
    base_url: str, admin_token: str, period: str, *, wait_s: float = settle_wait_s_max
) -> dict[str, object]:
    """POST /v1/periods/{period}/settle, again after each 503 until the worker caught up."""
    url = base_url.rstrip("/") + f"/v1/periods/{period}/settle"
    deadline = time.monotonic() + min(wait_s, settle_wait_s_max)
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(timeout=request_timeout_s) as client:
        while True:
            response = await client.post(url, headers=headers)
            if response.status_code == 200:
                answer: dict[str, object] = response.json()
                return answer
            if response.status_code in (429, 503) and time.monotonic() < deadline:
                await asyncio.sleep(_retry_after_s(response))
                continue
            raise DemoSendError(f"settling {period}: {response.status_code} {response.text[:300]}")
