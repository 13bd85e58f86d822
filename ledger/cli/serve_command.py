"""`ledger serve`: the HTTP API (and, later, the pages) on one port."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
import uvicorn

from ledger.app.api_service import ApiService
from ledger.cli.app import BadInput, WorkspaceOption, app
from ledger.cli.common import error_console, run, workspace
from ledger.http.app import create_app
from ledger.http.ratelimit import RateLimiter, burst_default, requests_per_second_default

graceful_shutdown_s = 5  # in-flight requests get this long after SIGTERM; then they are cut


def _listening_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BadInput(f"cannot resolve --host {host!r}: {error.strerror}") from error
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    requests_per_second: Annotated[
        float, typer.Option(help="Requests per second allowed per token (then 429).")
    ] = requests_per_second_default,
    burst: Annotated[int, typer.Option(help="Requests a token may make at once.")] = burst_default,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (method, path, status).")
    ] = False,
    workspace_name: WorkspaceOption = "default",
) -> None:
    """Serve the HTTP API until SIGTERM or Ctrl-C."""
    if not 0 <= port <= 65535:
        raise BadInput(f"--port {port} is not a port number")
    if requests_per_second <= 0 or burst < 1:
        raise BadInput("--requests-per-second must be positive and --burst at least 1")
    sock = _listening_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]

    async def go() -> None:
        service = ApiService(await workspace(workspace_name))
        application = create_app(service, rate_limiter=RateLimiter(requests_per_second, burst))
        config = uvicorn.Config(
            application,
            log_level="warning",
            access_log=access_log,
            timeout_graceful_shutdown=graceful_shutdown_s,
            server_header=False,
        )
        error_console.print(
            f"serving the ledger API of workspace {workspace_name} on"
            f" http://{bound_host}:{bound_port} (docs at /docs); Ctrl-C stops",
            markup=False,
            highlight=False,
        )
        await uvicorn.Server(config).serve(sockets=[sock])

    run(go)
