"""A throwaway PostgreSQL cluster from the server binaries on this machine (`initdb`, `pg_ctl`).

The `pgserver` wheel, which ships its own binaries, is the fallback when none are installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_port


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """Where `initdb` and `pg_ctl` live: $PG_BINDIR, Debian's layout (newest first), then PATH."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    try:
        import pgserver  # type: ignore[import-not-found]  # optional fallback wheel
    except ImportError as exc:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries found (looked in $PG_BINDIR, /usr/lib/postgresql/*/bin and "
            "PATH); install PostgreSQL or `pip install pgserver`"
        ) from exc
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (or `nobody`) instead."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresUnavailable("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL")


@dataclass
class PostgresServer:
    datadir: Path
    port: int
    bindir: Path
    database: str = "sfgr"
    user: str = "sfgr"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @classmethod
    def create(cls, datadir: Path, *, port: int | None = None) -> PostgresServer:
        server = cls(datadir=datadir, port=port or free_port(), bindir=find_bindir())
        server.start()
        return server

    def _run(self, *args: str, as_server: bool = True) -> None:
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        user = _server_user() if as_server else None
        result = subprocess.run(
            args, capture_output=True, text=True, env=env, check=False, user=user, cwd=self.datadir
        )
        if result.returncode != 0:
            detail = result.stderr.strip() or result.stdout.strip()
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {detail}")

    def start(self) -> None:
        """Starts the server, first making the cluster and its database if the data directory has
        none; a stopped server starts again on its own data (same port, same database)."""
        fresh = not (self.datadir / "PG_VERSION").exists()
        if fresh:
            self.datadir.mkdir(parents=True, exist_ok=True)
            user = _server_user()
            if user is not None:
                shutil.chown(self.datadir, user=user)
                # The server user must be able to reach its data directory through ours.
                parent = self.datadir.parent
                parent.chmod(parent.stat().st_mode | 0o711)
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        log = self.datadir / "server.log"
        options = f"-p {self.port} -h 127.0.0.1 -k {self.datadir} -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if not fresh:
            return
        self._run(
            str(self.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            self.database,
            as_server=False,
        )

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, and the data stays for `start`."""
        subprocess.run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            user=_server_user(),
        )
