"""A small client for Superset's REST API (v1): log in, then find, create or update objects.

Superset answers list queries with a `q` parameter in Rison (a compact JSON notation for
URLs), and refuses state-changing requests without a CSRF token tied to the session cookie;
both are handled here so the provisioning reads as plain calls. Objects are looked up by
`uuid`: the provisioning gives every object a fixed one, so renaming a chart in the code
updates it instead of creating a twin.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


class SupersetError(RuntimeError):
    """Superset refused a request; the message carries its answer."""


class SupersetClient:
    """An authenticated session with one Superset instance (use as a context manager)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def __enter__(self) -> SupersetClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def login(self, username: str, password: str) -> None:
        """Database login for a JWT, then a CSRF token bound to this session's cookie."""
        token = self._call(
            "POST",
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
        )["access_token"]
        self._http.headers["Authorization"] = f"Bearer {token}"
        csrf = self._call("GET", "/api/v1/security/csrf_token/")["result"]
        self._http.headers["X-CSRFToken"] = csrf
        self._http.headers["Referer"] = str(self._http.base_url)

    def find(self, resource: str, uuid: str) -> dict[str, Any] | None:
        """The object of `resource` (chart, dataset, ...) with this uuid, or None."""
        query = rison({"filters": [{"col": "uuid", "opr": "eq", "value": uuid}]})
        found = self._call("GET", f"/api/v1/{resource}/", params={"q": query})["result"]
        return found[0] if found else None

    def create(self, resource: str, uuid: str, body: dict[str, Any]) -> int:
        """Create an object of `resource` with this uuid; return its id."""
        created = self._call("POST", f"/api/v1/{resource}/", json={**body, "uuid": uuid})
        log.info("created %s %s (id %s)", resource, uuid, created["id"])
        return int(created["id"])

    def upsert(self, resource: str, uuid: str, body: dict[str, Any]) -> int:
        """Create the object with this uuid, or update it to `body`; return its id."""
        existing = self.find(resource, uuid)
        if existing is None:
            return self.create(resource, uuid, body)
        self.put(f"/api/v1/{resource}/{existing['id']}", body)
        log.info("updated %s %s (id %s)", resource, uuid, existing["id"])
        return int(existing["id"])

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET an API path (e.g. `/api/v1/chart/3/data/`) with query parameters."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to an API path (e.g. SQL Lab's `/api/v1/sqllab/execute/`)."""
        return self._call("POST", path, json=body)

    def put(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """PUT a JSON body (or none, e.g. a dataset's `/refresh`) to an API path."""
        return self._call("PUT", path, json=body or {})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:
            raise SupersetError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json()


def rison(value: Any) -> str:
    """Encode dicts, lists, strings, numbers, booleans and None as Rison."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{key}:{rison(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(rison(item) for item in value) + ")"
    if value is None:
        return "!n"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"
