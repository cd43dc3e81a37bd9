"""Superset on loopback for the BI tests: from .venv-bi, its metadata in a throwaway SQLite
file, initialised as the compose `superset-init` service does (migrate, admin, roles), served
by gunicorn as the compose `superset` service is."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BI_BIN = REPO / ".venv-bi" / "bin"
CONFIG = REPO / "include" / "cryptodw" / "bi" / "superset_config.py"
START_TIMEOUT_S = 180


@dataclass(frozen=True)
class RunningSuperset:
    url: str
    username: str
    password: str
    home: Path


def superset_env(home: Path) -> dict[str, str]:
    """Superset's environment: this project's config, a fresh secret, SQLite metadata."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        SUPERSET_CONFIG_PATH=str(CONFIG),
        SUPERSET_HOME=str(home),
        SUPERSET_SECRET_KEY=secrets.token_urlsafe(32),
        SUPERSET_DATABASE_URI=f"sqlite:///{home / 'superset.db'}",
    )
    return env


def initialise(env: dict[str, str], username: str, password: str, log: Path) -> None:
    """`superset db upgrade`, an admin user, `superset init` (roles and permissions)."""
    admin = [
        *("fab", "create-admin", "--username", username, "--password", password),
        *("--firstname", "Market", "--lastname", "Analyst", "--email", "analyst@example.org"),
    ]
    superset = str(BI_BIN / "superset")
    for args in (["db", "upgrade"], admin, ["init"]):
        with log.open("a") as out:
            done = subprocess.run([superset, *args], env=env, stdout=out, stderr=out)
        if done.returncode != 0:
            raise RuntimeError(f"superset {args[0]} failed:\n{log.read_text()[-4000:]}")


@contextmanager
def running_superset(home: Path) -> Iterator[RunningSuperset]:
    """Initialise and serve Superset on a free loopback port; stop it afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    env = superset_env(home)
    username, password = "analyst-admin", secrets.token_urlsafe(16)
    log = home / "superset.log"
    initialise(env, username, password, log)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BI_BIN / "gunicorn"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--worker-class", "gthread", "--threads", "4", "--timeout", "120"),
            "superset.app:create_app()",
        ],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield RunningSuperset(url, username, password, home)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Superset exited ({server.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=5).text == "OK":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Superset not healthy after {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def session_cookies(url: str, username: str, password: str) -> dict[str, str]:
    """Log in through the web login form, as a browser does; the session cookie(s)."""
    with httpx.Client(base_url=url) as browser:
        form = browser.get("/login/").text
        token = form.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        answer = browser.post(
            "/login/", data={"csrf_token": token, "username": username, "password": password}
        )
        if answer.status_code != 302 or "session" not in browser.cookies:
            raise RuntimeError(f"login failed: HTTP {answer.status_code}")
        return dict(browser.cookies)
