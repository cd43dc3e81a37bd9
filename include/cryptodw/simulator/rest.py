"""What the simulated Bybit and OKX APIs share: a reproducible clock, parameters, responses.

Each API's clock starts when the simulated window ends and advances a fixed step per request,
so a recording made through it is reproducible byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from include.cryptodw.simulator.formats import compact_json
from include.cryptodw.simulator.truth import TruthStore
from include.cryptodw.transport import Params, Response

_INTEGER = re.compile(r"[0-9]{1,20}")


class ApiError(Exception):
    """A request the venue refuses: HTTP status plus the venue's error code and message."""

    def __init__(self, status: int, code: int | str, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


@dataclass
class ClockedApi:
    """A venue's API over one simulation's truth, with the API's own clock."""

    truth: TruthStore
    request_spacing_s: float = 1.0
    clock: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.clock = datetime.combine(self.truth.window_end, datetime.min.time(), tzinfo=UTC)

    def tick(self, params: Params | None) -> dict[str, str]:
        """Advance the clock for one request; its parameters as the server sees them."""
        self.clock += timedelta(seconds=self.request_spacing_s)
        return {str(k): str(v) for k, v in sorted((params or {}).items())}

    @property
    def now_ms(self) -> int:
        return int(self.clock.timestamp() * 1000)

    def respond(self, url: str, params: dict[str, str], status: int, body: object) -> Response:
        headers = {"content-type": "application/json"}
        return Response(url, params, status, headers, compact_json(body).encode(), self.clock)


def integer_param(params: dict[str, str], name: str, error: ApiError) -> int | None:
    """An optional non-negative integer parameter; `error` when it is not one."""
    value = params.get(name)
    if value is None:
        return None
    if not _INTEGER.fullmatch(value):
        raise error
    return int(value)


def limit_param(params: dict[str, str], default: int, maximum: int, error: ApiError) -> int:
    """`limit` within 1 .. `maximum` (`default` when absent); `error` otherwise."""
    limit = integer_param(params, "limit", error)
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise error
    return limit
