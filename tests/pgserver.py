"""A real, throwaway PostgreSQL server for the test run.

``PgServer`` runs ``initdb`` into a temporary directory, starts the server on a free
localhost port with ``pg_ctl`` and hands out SQLAlchemy URLs of fresh databases
(``create_database``), so that tests never see each other's rows.  ``stop`` shuts the
server down (``-m immediate``: its data is thrown away anyway) and removes the
directory.

When the environment variable ``ABSENTIA_TEST_PG_URL`` names a server
(``postgresql+psycopg://user@host:port/db``), that server is used instead: databases
are created on it and dropped again by ``stop``.

PostgreSQL refuses to run as root.  When the tests run as root, ``initdb`` and
``pg_ctl`` run as the ``postgres`` system user (created with ``useradd --system`` if
missing), and the temporary directory is made over to that user.

The server's binaries are looked for on ``PATH`` and under
``/usr/lib/postgresql/<version>/bin``; if there are none, ``PgUnavailable`` says how
to install them.  The project requires the PostgreSQL tests to run: the fixtures turn
that error into a test failure, not a skip.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "ABSENTIA_TEST_PG_URL"
INSTALL_HINT = "apt-get install -y postgresql"
SERVICE_USER = "postgres"
START_TIMEOUT_S = 60


class PgUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started."""


@dataclass(frozen=True)
class _RunAs:
    """The account the server's programs run as (None: the current one)."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: newest version last."""
    m = re.search(r"/postgresql/(\d+(?:\.\d+)*)/bin$", path)
    return tuple(int(p) for p in m.group(1).split(".")) if m else (0,)


def find_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises:
        PgUnavailable: no PostgreSQL server binaries are installed.
    """
    initdb = shutil.which("initdb")
    if initdb is not None:
        folder = Path(os.path.realpath(initdb)).parent
        if (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    for folder_text in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key,
                              reverse=True):
        folder = Path(folder_text)
        if all((folder / b).exists() for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PgUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or "
        "under /usr/lib/postgresql/*/bin. The PostgreSQL tests are required, not "
        f"optional: install the server with `{INSTALL_HINT}` (as root), or point "
        f"{ENV_URL} at a running server (postgresql+psycopg://user@host:port/db)."
    )


def _service_account() -> _RunAs:
    """Whom to run the server as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return _RunAs()
    try:
        pw = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        done = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            capture_output=True, text=True, check=False,
        )
        try:
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise PgUnavailable(
                f"the tests run as root, PostgreSQL refuses to, and the system user "
                f"{SERVICE_USER!r} is missing and could not be created "
                f"(useradd: {done.stderr.strip() or done.returncode}). Create it with "
                f"`useradd --system {SERVICE_USER}` or install the server with "
                f"`{INSTALL_HINT}`, which creates it."
            ) from None
    return _RunAs(pw.pw_uid, pw.pw_gid, pw.pw_name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conninfo(url: URL) -> str:
    """A libpq URI for a SQLAlchemy URL (psycopg does not know the ``+psycopg``)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PgServer:
    """A PostgreSQL server for tests: started here, or the one ``ABSENTIA_TEST_PG_URL`` names.

    Use as a context manager, or call ``start`` and ``stop``.
    """

    def __init__(self, *, external_url: str | None = None,
                 settings: Mapping[str, str] | None = None) -> None:
        """``settings``: server parameters (``-c name=value``) over these defaults, for a
        server started here (an external one keeps its own)."""
        self.settings = {"fsync": "on", "max_connections": "100",
                         "log_min_messages": "warning", **(settings or {})}
        self.external_url = external_url if external_url is not None else os.environ.get(
            ENV_URL) or None
        self.base: Path | None = None
        self.port: int | None = None
        self.bin_dir: Path | None = None
        self._run_as = _RunAs()
        self._admin_url: URL | None = None
        self._created: list[str] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._started = False

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self.base is not None, "server not started"
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        assert self.base is not None, "server not started"
        return self.base / "server.log"

    def start(self) -> None:
        """Start the server (or check the external one answers).

        Raises:
            PgUnavailable: no binaries, or the server would not start.
        """
        if self._started:
            return
        if self.external_url:
            self._admin_url = make_url(self.external_url)
            self._check_connect()
            self._started = True
            return
        self.bin_dir = find_bin_dir()
        self._run_as = _service_account()
        # Under /tmp (mode 1777, traversable by everyone) so that the service user can
        # reach it even when the tests' own temporary directory is private to root.
        parent = "/tmp" if self._run_as.uid is not None else None
        self.base = Path(tempfile.mkdtemp(prefix="absentia-pg-", dir=parent))
        os.chmod(self.base, 0o700)
        (self.base / "sock").mkdir(mode=0o700)
        if self._run_as.uid is not None and self._run_as.gid is not None:
            for p in (self.base, self.base / "sock"):
                os.chown(p, self._run_as.uid, self._run_as.gid)
        atexit.register(self.stop)
        self._started = True
        try:
            self._initdb()
            last_error = ""
            for _ in range(3):  # the free port may be taken between probe and bind
                self.port = _free_port()
                done = self._pg_ctl_start()
                if done.returncode == 0:
                    break
                last_error = f"{done.stdout}\n{done.stderr}\n{self._log_tail()}"
            else:
                raise PgUnavailable(f"PostgreSQL did not start:\n{last_error}")
            self._admin_url = URL.create(
                "postgresql+psycopg", username="postgres", host="127.0.0.1", port=self.port,
                database="postgres")
            self._check_connect()
        except BaseException:
            self.stop()
            raise

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        assert self.base is not None
        env = dict(os.environ, LC_ALL="C", LANG="C")
        env.pop("PGDATA", None)
        if self._run_as.uid is not None:
            return subprocess.run(
                argv, capture_output=True, text=True, check=False, timeout=timeout,
                cwd=self.base, env=env, user=self._run_as.uid, group=self._run_as.gid,
                extra_groups=[],
            )
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=timeout, cwd=self.base, env=env)

    def _initdb(self) -> None:
        assert self.bin_dir is not None
        done = self._run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            timeout=120,
        )
        if done.returncode != 0:
            raise PgUnavailable(
                f"initdb failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        assert self.base is not None
        options = (
            f"-k {self.base / 'sock'} -p {self.port} -c listen_addresses=127.0.0.1 "
            + " ".join(f"-c {name}={value}" for name, value in self.settings.items())
        )
        return self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
             "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start"],
            timeout=START_TIMEOUT_S + 30,
        )

    def _log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except (OSError, AssertionError):
            return ""

    def _check_connect(self) -> None:
        assert self._admin_url is not None
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(_conninfo(self._admin_url), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgUnavailable(
                        f"cannot connect to PostgreSQL at "
                        f"{self._admin_url.render_as_string()}: {exc}\n{self._log_tail()}"
                    ) from exc
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server we started and delete its files; drop databases on an external one."""
        if not self._started:
            return
        self._started = False
        if self.external_url:
            for name in list(self._created):
                with contextlib.suppress(psycopg.Error):
                    self.drop_database(name)
            self._created.clear()
            return
        if self.base is None:
            return
        if self.bin_dir is not None and (self.data_dir / "postmaster.pid").exists():
            try:
                done = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                                  "-m", "immediate", "-w", "-t", "30", "stop"], timeout=60)
                stopped = done.returncode == 0
            except subprocess.TimeoutExpired:
                stopped = False
            if not stopped:
                self._kill_postmaster()
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def pause(self) -> None:
        """Shut the server we started down, keeping its files (``resume`` starts it again
        on the same port): an outage of the database.

        Raises:
            PgUnavailable: the server is external, or would not stop.
        """
        if self.external_url or self.bin_dir is None:
            raise PgUnavailable("only a server started here can be paused")
        done = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                          "-m", "fast", "-w", "-t", "60", "stop"], timeout=90)
        if done.returncode != 0:
            raise PgUnavailable(f"pg_ctl stop failed:\n{done.stdout}\n{done.stderr}")

    def resume(self) -> None:
        """Start a paused server again on its port.

        Raises:
            PgUnavailable: it would not start.
        """
        done = self._pg_ctl_start()
        if done.returncode != 0:
            raise PgUnavailable(f"PostgreSQL did not restart:\n{done.stdout}\n{done.stderr}\n"
                                f"{self._log_tail()}")
        self._check_connect()

    # -- databases ----------------------------------------------------------------

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        assert self._admin_url is not None, "server not started"
        return self._admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self) -> str:
        """Create a fresh, empty database and return its SQLAlchemy URL."""
        assert self._admin_url is not None, "server not started"
        with self._lock:
            name = f"test_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(_conninfo(self._admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        assert self._admin_url is not None, "server not started"
        with psycopg.connect(_conninfo(self._admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        with contextlib.suppress(ValueError):
            self._created.remove(name)


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """A started ``PgServer``, stopped on exit."""
    with PgServer() as server:
        yield server


def serve_for_tests(purpose: str, *, external_url: str | None = None) -> Iterator[PgServer]:
    """A started ``PgServer`` for a pytest fixture to yield from, stopped afterwards; a
    server that cannot start fails the tests (never skips them), naming ``purpose``."""
    import pytest

    server = PgServer(external_url=external_url)
    problem = None
    try:
        server.start()
    except PgUnavailable as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"PostgreSQL is required for {purpose}: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


__all__ = ["ENV_URL", "INSTALL_HINT", "PgServer", "PgUnavailable", "find_bin_dir",
           "running_server", "serve_for_tests"]
