"""Serving the studio: Solara's server (Starlette under uvicorn) plus one read-only route for
the results folder's files (reports).

Everything the page loads — Solara's and Vue's scripts, styles, fonts — comes from the
installed ``solara`` and ``solara-assets`` packages, so the studio works with no internet
access; Solara's usage telemetry is switched off. It listens on 127.0.0.1 unless told
otherwise: whoever can reach the address can read and write scenario files under the
scenarios folder and read files under the results folder, and nothing else (:mod:`.roots`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
import webbrowser

from sim.errors import UsageError
from sim.studio.roots import Roots

__all__ = ["SERVED_SUFFIXES", "Roots", "build_app", "check_address", "serve"]

#: Files of the results folder the studio serves (reports and what they may link to).
SERVED_SUFFIXES = (".html", ".md", ".png", ".svg", ".csv", ".json")
RESULTS_ROUTE = "/studio/results/{path:path}"


def configure(roots: Roots) -> None:
    """Settings Solara reads from the environment when its server module is first imported."""
    roots.export()
    os.environ["SOLARA_APP"] = "sim.studio.pages"
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"  # no calls out


def build_app(roots: Roots):  # noqa: ANN201 - a Starlette app; starlette loads with solara
    """Solara's Starlette app with the results route in front of its catch-all page route."""
    configure(roots)
    from solara.server import starlette as solara_server
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, Response
    from starlette.routing import Route

    def results_file(request: Request) -> Response:
        name = request.path_params["path"]
        try:
            path = roots.result(name)
        except UsageError:
            return PlainTextResponse("outside the results folder", status_code=404)
        if not path.is_file() or path.suffix not in SERVED_SUFFIXES:
            return PlainTextResponse(f"no such file in the results folder: {name}", 404)
        return FileResponse(path)

    app = solara_server.app
    if not any(getattr(r, "path", None) == RESULTS_ROUTE for r in app.router.routes):
        app.router.routes.insert(0, Route(RESULTS_ROUTE, endpoint=results_file))
    return app


def check_address(host: str, port: int) -> None:
    """Refuse a port out of range or already taken before anything starts."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: must be 0–65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise UsageError(
                f"--host {host} --port {port}: cannot listen ({exc.strerror})"
            ) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(roots: Roots, *, host: str = "127.0.0.1", port: int = 8765, browser: bool = True) -> int:
    """Run the studio until interrupted (Ctrl+C)."""
    import uvicorn

    check_address(host, port)
    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    app = build_app(roots)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    print(f"channelsim studio: {url}  (Ctrl+C stops it)", flush=True)
    print(f"  scenarios (read and written): {roots.scenarios}", flush=True)
    print(f"  results (read): {roots.results}", flush=True)
    if not is_loopback(host):
        print(
            f"  shared on {host}: anyone who can reach this address can read and write "
            "scenario files in the scenarios folder and read the results folder",
            flush=True,
        )
    if browser:
        threading.Thread(target=_open_when_up, args=(server, url), daemon=True).start()
    server.run()
    return 0


def _open_when_up(server, url: str) -> None:  # noqa: ANN001 - a uvicorn.Server
    for _ in range(300):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)
