"""Headless Chromium driven over the DevTools protocol (no webdriver needed): set a session
cookie, open a page, evaluate JavaScript in it, take a screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Tall enough that every chart of the dashboard is in view (Superset renders charts lazily).
WINDOW = "--window-size=1600,3000"


class Page:
    """One browser tab, spoken to in DevTools protocol commands."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextmanager
def open_page(url: str, cookies: dict[str, str]) -> Iterator[Page]:
    """Start Chromium, set `cookies` for `url`'s site, navigate to `url`."""
    # Chromium's helper processes may still be writing to the profile as the directory goes;
    # they are killed with the browser, and a file they leave behind is not the test's failure.
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [CHROMIUM, *FLAGS, WINDOW, "--remote-debugging-port=0", f"--user-data-dir={profile}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the helpers go with it
        )
        try:
            port = _devtools_port(Path(profile), browser)
            tabs = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
            tab = next(tab for tab in tabs if tab["type"] == "page")
            with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
                page = Page(socket)
                page.call("Network.enable")
                for name, value in cookies.items():
                    page.call("Network.setCookie", name=name, value=value, url=url)
                page.call("Page.navigate", url=url)
                yield page
        finally:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(timeout=30)


def _devtools_port(profile: Path, browser: subprocess.Popen, timeout_s: float = 30) -> str:
    """Chromium writes the port it chose into its profile directory."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while not port_file.exists() or not port_file.read_text().strip():
        if browser.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{CHROMIUM} did not start (exit code {browser.poll()})")
        time.sleep(0.1)
    return port_file.read_text().split()[0]
