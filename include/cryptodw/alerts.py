"""Failure alerts for the DAGs: always a log line, optionally a JSON POST to a webhook.

Set `CRYPTODW_ALERT_WEBHOOK` to a URL (Slack incoming webhook, Teams, an internal endpoint) to
get one message per failed task instance. An alert never fails the task a second time: a
webhook that is down is logged and ignored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

WEBHOOK_ENV = "CRYPTODW_ALERT_WEBHOOK"
WEBHOOK_TIMEOUT_S = 10.0


def failure_message(context: Mapping[str, Any]) -> dict[str, str]:
    """The facts an on-call engineer needs, from an Airflow task callback context."""
    ti = context.get("task_instance") or context.get("ti")
    exception = context.get("exception")
    return {
        "dag_id": str(getattr(ti, "dag_id", "?")),
        "task_id": str(getattr(ti, "task_id", "?")),
        "map_index": str(getattr(ti, "map_index", -1)),
        "run_id": str(context.get("run_id") or getattr(ti, "run_id", "?")),
        "try_number": str(getattr(ti, "try_number", "?")),
        "error": f"{type(exception).__name__}: {exception}" if exception else "unknown",
    }


def notify_failure(context: Mapping[str, Any], webhook: str | None = None) -> None:
    """`on_failure_callback` for every task: log the failure, then POST it if configured."""
    message = failure_message(context)
    log.error(
        "task failed: %(dag_id)s.%(task_id)s[%(map_index)s] run %(run_id)s try %(try_number)s: "
        "%(error)s",
        message,
    )
    url = webhook or os.environ.get(WEBHOOK_ENV)
    if not url:
        return
    text = (
        f"{message['dag_id']}.{message['task_id']} failed ({message['run_id']}): {message['error']}"
    )
    try:
        httpx.post(
            url, json={"text": text, **message}, timeout=WEBHOOK_TIMEOUT_S
        ).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("failure alert not delivered to the webhook: %s", exc)
