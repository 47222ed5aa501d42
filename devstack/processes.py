"""Start detached processes we can find and stop again, and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Started:
    name: str
    pid: int
    argv: list[str]
    log: str
    # What the process got beyond the stack's environment (a restart gives it again).
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def spawn(name: str, argv: list[str], *, env: dict[str, str], logs: Path) -> Started:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
    started = Started(name=name, pid=process.pid, argv=argv, log=str(log))
    # Until the child has exec'd, /proc shows our own command line, and `is_ours` would say no.
    deadline = time.monotonic() + 10
    while not is_ours(started) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return started


def is_ours(started: Started) -> bool:
    """The pid still runs the command we started (pids are reused after a process ends)."""
    try:
        cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return [c.decode() for c in cmdline if c] == started.argv


def alive(started: Started) -> bool:
    if not is_ours(started):
        return False
    try:
        os.waitpid(started.pid, os.WNOHANG)  # reap it if it is our own child and has ended
    except ChildProcessError:
        pass
    status = Path(f"/proc/{started.pid}/stat")
    try:
        return status.read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def terminate(started: Started, *, grace: float = 15.0) -> None:
    """SIGTERM its process group, wait, then SIGKILL what is left."""
    if not is_ours(started):
        return
    try:
        os.killpg(started.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(started):
        try:
            os.killpg(started.pid, signal.SIGKILL)
        except ProcessLookupError:
            return


def kill(started: Started) -> None:
    """SIGKILL, as a crash would."""
    if is_ours(started):
        try:
            os.killpg(started.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.02)


def wait_file(path: Path, started: Started, *, timeout: float = 60.0) -> None:
    """Until `path` exists (the process announces it is ready); fails early if the process died."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if not alive(started):
            tail = Path(started.log).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{started.name} exited during start-up; its log ends with:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{started.name} not ready after {timeout:.0f} s (see {started.log})")
        time.sleep(0.05)


def wait_http(url: str, started: Started | None = None, *, timeout: float = 60.0) -> None:
    """Until `url` answers 200; fails early, with the log's tail, if the process died."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if started is not None and not alive(started):
            tail = Path(started.log).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{started.name} exited during start-up; its log ends with:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return
                last = str(response.status)
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read()[:300]!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s: {last}")
