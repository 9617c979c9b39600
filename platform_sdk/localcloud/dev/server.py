"""Serving `platform dev`: uvicorn on a socket bound before the app exists, in a thread (tests) or the foreground.

`Gateway(roots, port)` is what the CLI runs: the app of `app.create_gateway`, reachable at `Gateway.url`, which
functions get as their local signed-URL base.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from platform_sdk.localcloud.dev.app import create_gateway
from platform_sdk.localcloud.dev.core import GatewayCore, Roots
from platform_sdk.localcloud.dev.roots import RootFinder
from platform_sdk.localcloud.invoker import WorkerOptions
from platform_sdk.localcloud.registry import as_roots


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready TCP socket (port 0 = any free port): the real port is known before the app exists."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """Run any ASGI app with uvicorn on a bound socket, in a thread (tests) or in the foreground (CLI)."""

    def __init__(self, app: Any, sock: socket.socket, log_level: str = "warning") -> None:
        import uvicorn

        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        while not self.server.started:  # bounded by the thread: a failed startup ends it
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            time.sleep(0.01)
        return self

    def run(self) -> None:
        """Serve in the foreground until Ctrl-C (uvicorn handles the signals)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.sock.close()


class Gateway:
    """The gateway on 127.0.0.1:`port` (0 = any free port), started in a thread (tests) or in the foreground."""

    def __init__(self, roots: Roots, port: int = 0, host: str = "127.0.0.1", *, log_level: str = "warning",
                 options: WorkerOptions | None = None, watch: bool = True, schedules: bool = True,
                 prewarm: bool = False, queues: bool = True, retry_base: float | None = None,
                 finder: RootFinder | None = None) -> None:
        self.roots = as_roots(roots)
        sock = bind(host, port)
        # the URL must be known before workers start: it is PLATFORM_LOCAL_GATEWAY (local signed URLs)
        base_url = f"http://{host}:{sock.getsockname()[1]}"
        extra = {"retry_base": retry_base} if retry_base is not None else {}
        self.app = create_gateway(self.roots, base_url=base_url, options=options, watch=watch, schedules=schedules,
                                  prewarm=prewarm, queues=queues, finder=finder, **extra)
        self.core: GatewayCore = self.app.state.core
        self.server = ServerThread(self.app, sock, log_level)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(self.server.port)

    def start(self) -> Gateway:
        self.server.start()
        return self

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
