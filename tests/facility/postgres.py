"""A throwaway PostgreSQL cluster on a loopback port, for the facility test.

``initdb`` into a temporary directory and ``pg_ctl start`` on 127.0.0.1 and a free
port, trust authentication for loopback only; stopped (``pg_ctl stop -m fast``) and
removed by the caller. PostgreSQL refuses to run as root, so as root the cluster
runs as the ``postgres`` user (``runuser``).

The system's PostgreSQL: the ``pgserver`` wheel's binaries cannot serve Tiled, which
needs the ``btree_gin`` extension (in the distribution's ``postgresql`` package, not
in the wheel).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SEARCH = ("/usr/lib/postgresql", "/usr/local/pgsql/bin")
INSTALL = "apt-get install postgresql"


def find_program(name: str) -> str | None:
    """``name`` on PATH, else in a distribution's PostgreSQL directory (newest version)."""
    found = shutil.which(name)
    if found:
        return found
    for root in SEARCH:
        candidates = sorted(Path(root).glob(f"*/bin/{name}"), reverse=True)
        if candidates:
            return str(candidates[0])
    return None


def unavailable() -> str | None:
    """Why no cluster can be made here (naming what to install), or ``None``."""
    missing = [name for name in ("initdb", "pg_ctl", "psql") if find_program(name) is None]
    if missing:
        return f"PostgreSQL not found: no {', '.join(missing)} ({INSTALL})"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return (
                f"as root, PostgreSQL runs as the user 'postgres', who does not exist ({INSTALL})"
            )
    return None


class Cluster:
    """A PostgreSQL cluster in a new temporary directory, on 127.0.0.1:``port``.

    The directory is made directly in the system's temporary directory (the
    ``postgres`` user must reach it) and removed by :meth:`stop`.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bluesky-timelapse-pg-"))
        self.data = self.directory / "pgdata"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._initdb = find_program("initdb")
        self._pg_ctl = find_program("pg_ctl")
        if self._initdb is None or self._pg_ctl is None:
            raise FileNotFoundError(f"initdb/pg_ctl not found ({INSTALL})")

    @property
    def uri(self) -> str:
        """The URI of the database ``tiled`` (no password: trust on loopback)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/tiled"

    def start(self) -> None:
        """Create the cluster and the database ``tiled``; start the server."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run(self._initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8")
        self._run(
            self._pg_ctl, "-D", str(self.data), "-l", str(self.directory / "postgres.log"),
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.directory}", "-w", "start",
        )  # fmt: skip
        psql = find_program("psql")
        assert psql is not None
        self._run(psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                  "-d", "postgres", "-c", "CREATE DATABASE tiled")  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove the cluster's directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                assert self._pg_ctl is not None
                self._run(self._pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
