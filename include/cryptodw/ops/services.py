"""Throwaway Postgres and Redis on loopback, and background processes that never outlive us.

Everything here runs as root on a Debian machine (CI, a developer box): missing server
packages are installed with apt-get, without letting their init scripts start the distro's own
instances. Each server gets its own data directory and a free loopback port, so it can run next
to anything else on the machine. Every process a `Supervisor` starts carries a marker in its
environment; stopping sweeps any process that still carries it, so no daemon survives.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

MARKER_ENV = "CRYPTODW_SUPERVISOR_ID"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
POSTGRES_USER = "postgres"  # the Unix account Debian's packages create; initdb refuses root


class ServiceError(RuntimeError):
    """A service did not start, or a process exited while it was needed."""


# --------------------------------------------------------------------------- packages


def postgres_bin_dir() -> Path | None:
    """Debian's versioned PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`), newest."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def missing_packages() -> list[str]:
    """The Debian packages still needed for a Postgres and a Redis server."""
    missing = []
    if postgres_bin_dir() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


def install_packages(packages: Sequence[str]) -> None:
    """apt-get install `packages`, keeping their services from starting (policy-rc.d 101)."""
    if not packages:
        return
    if os.geteuid() != 0:
        raise ServiceError(f"installing {', '.join(packages)} needs root (apt-get)")
    log.info("installing Debian packages: %s", " ".join(packages))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    own_policy = not POLICY_RC_D.exists()
    if own_policy:
        POLICY_RC_D.write_text("#!/bin/sh\n# cryptodw: no service starts on install\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            check=True,
        )
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    interval: float = 1.0,
    alive: Callable[[], None] | None = None,
) -> None:
    """Poll `ready()` until it is true; `alive()` raises when a process it needs died."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Process:
    """One background process started by a `Supervisor`, with its output in `log_path`."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    stop_signal: int = signal.SIGTERM

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Signal the process, wait, then kill it and any descendant still running."""
        try:
            descendants = psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        if self.running():
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s ignored signal %s for %.0fs; killing it",
                    self.name,
                    self.stop_signal,
                    timeout,
                )
                self.popen.kill()
                self.popen.wait()
        _terminate(descendants, timeout=10.0)


def _terminate(processes: Sequence[psutil.Process], timeout: float) -> None:
    alive = [p for p in processes if p.is_running()]
    for process in alive:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, still = psutil.wait_procs(alive, timeout=timeout)
    for process in still:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(still, timeout=timeout)


@dataclass
class Supervisor:
    """Starts background processes and stops every one of them, in reverse order, on exit."""

    log_dir: Path
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    processes: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        cmd: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        env = {**(env or os.environ), MARKER_ENV: self.marker}
        with open(log_path, "ab") as output:
            popen = subprocess.Popen(
                list(cmd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        process = Process(name, popen, log_path, stop_signal)
        self.processes.append(process)
        log.info("started %s (pid %d), log %s", name, popen.pid, log_path)
        return process

    def check_alive(self) -> None:
        """Raise with its log tail when a process exited while the stack still needed it."""
        for process in self.processes:
            if not process.running():
                raise ServiceError(
                    f"{process.name} exited with {process.popen.returncode}; last log lines:\n"
                    f"{process.tail()}"
                )

    def stop_all(self) -> list[str]:
        """Stop everything started, newest first; return what had to be swept up afterwards."""
        for process in reversed(self.processes):
            log.info("stopping %s", process.name)
            process.stop()
        leftovers = self.marked_processes()
        _terminate(leftovers, timeout=10.0)
        return [f"{p.pid} {' '.join(_cmdline(p))[:120]}" for p in leftovers]

    def marked_processes(self) -> list[psutil.Process]:
        """Processes still running with this supervisor's marker in their environment."""
        marked = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(MARKER_ENV) == self.marker:
                    marked.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return marked

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc) -> None:
        leftovers = self.stop_all()
        if leftovers:
            log.warning("killed %d leftover processes: %s", len(leftovers), leftovers)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ["?"]


# --------------------------------------------------------------------------- servers


INITDB_OPTIONS = (
    *("-E", "UTF8", "--locale=C", "--no-sync"),
    *("--auth-local=trust", "--auth-host=scram-sha-256"),  # TCP logins need the password
)
SERVER_SETTINGS = (
    "listen_addresses=127.0.0.1",
    "max_connections=200",  # every Airflow component keeps a pool of connections
    *("fsync=off", "synchronous_commit=off", "full_page_writes=off"),  # throwaway data
)


@dataclass(frozen=True)
class Postgres:
    """A role and database on a loopback Postgres server."""

    port: int
    user: str
    password: str
    database: str
    host: str = "127.0.0.1"

    def url(self, scheme: str = "postgresql+psycopg2") -> str:
        return f"{scheme}://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Redis:
    port: int
    password: str
    host: str = "127.0.0.1"

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/{db}"


def start_postgres(
    supervisor: Supervisor, root: Path, *, database: str, user: str, password: str
) -> Postgres:
    """initdb a cluster under `root`, serve it on a free loopback port, create role and DB.

    The cluster's superuser connects only through the Unix socket in `root` (trust); TCP
    connections need the role's password (scram-sha-256). fsync is off: the data is throwaway.
    """
    import psycopg2

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise ServiceError("PostgreSQL is not installed (apt-get install postgresql)")
    data, sockets = root / "data", root / "run"
    for directory in (root, sockets):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, POSTGRES_USER, POSTGRES_USER)
    root.chmod(0o700)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", *INITDB_OPTIONS]
    subprocess.run(
        initdb,
        user=POSTGRES_USER,
        group=POSTGRES_USER,
        extra_groups=[],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=root,
    )
    port = free_port()
    server = supervisor.start(
        "postgres",
        [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets)]
        + [arg for setting in SERVER_SETTINGS for arg in ("-c", setting)],
        user=POSTGRES_USER,
        stop_signal=signal.SIGINT,  # "fast" shutdown: roll back open transactions and exit
    )

    def superuser():
        return psycopg2.connect(host=str(sockets), port=port, user="postgres", dbname="postgres")

    def accepting() -> bool:
        try:
            superuser().close()
            return True
        except psycopg2.OperationalError:
            return False

    wait_until(accepting, "postgres to accept connections", 60, 0.5, lambda: _alive(server))
    con = superuser()
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'create role "{user}" login password %s', (password,))
        cur.execute(f'create database "{database}" owner "{user}"')
    con.close()
    log.info("postgres on 127.0.0.1:%d, database %s", port, database)
    return Postgres(port=port, user=user, password=password, database=database)


def start_redis(supervisor: Supervisor, root: Path, *, password: str) -> Redis:
    """A Redis server on a free loopback port, password-protected, persisting nothing."""
    import redis

    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "redis.conf"
    config.touch(mode=0o600)
    config.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                "protected-mode yes",
                "daemonize no",
                f"dir {root}",
                'save ""',
                "appendonly no",
                f"requirepass {password}",
            ]
        )
        + "\n"
    )
    server = supervisor.start("redis", ["redis-server", str(config)])
    client = redis.Redis(host="127.0.0.1", port=port, password=password)

    def pong() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_until(pong, "redis to answer PING", 30, 0.2, lambda: _alive(server))
    client.close()
    log.info("redis on 127.0.0.1:%d", port)
    return Redis(port=port, password=password)


def _alive(process: Process) -> None:
    if not process.running():
        raise ServiceError(
            f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
        )
