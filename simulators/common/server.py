"""Run an ASGI app on a loopback port: from the command line, or in a thread inside a test run."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int, log_level: str = "warning") -> None:
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


class ServerThread:
    """`with ServerThread(app) as server: server.url ...`: uvicorn in a daemon thread, stopped on exit."""

    def __init__(self, app: ASGIApp, *, port: int = 0, host: str = "127.0.0.1") -> None:
        # Port 0: the system picks a free port when uvicorn binds, read back once it started.
        self.port = port
        self.host = host
        self.url = ""
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.host}:{self.port} did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
