"""What every local fake of a documented cloud API shares: a Starlette app served on a free 127.0.0.1 port by the
same server thread `platform dev` uses (loopback only; see DESIGN.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.applications import Starlette

from platform_sdk.localcloud.dev import ServerThread, bind


class LocalFake:
    """Base of the fakes: a subclass builds its routes in `app()`; `running()` serves them."""

    def app(self) -> Starlette:
        raise NotImplementedError

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a free 127.0.0.1 port; yields `http://127.0.0.1:PORT`."""
        server = ServerThread(self.app(), bind("127.0.0.1", 0)).start()
        try:
            yield server.url
        finally:
            server.stop()
