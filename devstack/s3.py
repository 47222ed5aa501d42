"""A throwaway S3 server (moto's, from the dev extras) to keep a Tansu broker's data across restarts.

Tansu's `s3://` storage engine keeps topics, records, consumer groups and their committed offsets
as objects in one bucket; this server holds them in its own memory, so they outlive the broker
(stop it, start it again on the same storage, and it carries on) but not this server.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devstack.broker import stop_child, wait_for_port
from devstack.ports import free_port

# moto accepts any credentials; Tansu's S3 client insists on having some, and on a region.
ACCESS_KEY_ID = "sfgr-dev"
SECRET_ACCESS_KEY = "sfgr-dev-secret"  # noqa: S105 - a local test server's, not a secret
REGION = "us-east-1"


def command(port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)]


def create_bucket(endpoint: str, bucket: str) -> None:
    """S3's CreateBucket; in us-east-1 it needs no body, and moto checks no signature."""
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")  # noqa: S310 - our loopback URL
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


def client_env(endpoint: str) -> dict[str, str]:
    """What an S3 client of Tansu's (the Rust `object_store` crate) reads from its environment."""
    return {
        "AWS_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ALLOW_HTTP": "true",
    }


@dataclass
class MotoS3Server:
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def create(cls, log_path: Path, *, bucket: str = "tansu") -> MotoS3Server:
        """A running server with `bucket` made."""
        server = cls(port=free_port(), log_path=log_path)
        server.start()
        try:
            create_bucket(server.endpoint, bucket)
        except BaseException:
            server.stop()
            raise
        return server

    def client_env(self) -> dict[str, str]:
        return client_env(self.endpoint)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command(self.port), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_port(self.port)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_child(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None
