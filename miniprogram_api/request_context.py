"""A request id on every log line, following the request into the Celery tasks it enqueues.

The id is the caller's ``X-Request-ID`` when it sends a sane one (a proxy or the
mini-program's own trace id), else a fresh one; it comes back in the response's
``X-Request-ID``. It lives in a context variable, so a logging filter can put it on every
record, and a Celery ``before_task_publish`` hook copies it into the message headers,
where ``task_prerun`` finds it again in the worker: one search for the id shows the
request and everything it set going.

Log lines are also redacted here, whatever code logged them: bearer tokens, exit-pass and
share tokens, and 16-digit gift-card codes never reach a log.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid

from celery import signals

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HEADER = "X-Request-ID"


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get(HEADER, "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response


# --- Logging ------------------------------------------------------------------------------

_REDACTIONS = (
    (re.compile(r"(?i)\b(bearer|gate)\s+[^\s\"',]+"), r"\1 [redacted]"),
    (re.compile(r"\b(EP1|GS1|CP1)\.[A-Za-z0-9._~+/=-]+"), r"\1.[redacted]"),
    (re.compile(r"(?<![\d.])(\d{12})(\d{4})(?![\d.])"), r"************\2"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record and redacts secrets from its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers parse without configuration."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


# --- Celery -------------------------------------------------------------------------------


@signals.before_task_publish.connect
def _stamp_outgoing_task(headers=None, **kwargs) -> None:
    if headers is not None and "request_id" not in headers:
        headers["request_id"] = _request_id.get()


_task_tokens: dict[str, contextvars.Token] = {}


@signals.task_prerun.connect
def _adopt_request_id(task_id=None, task=None, **kwargs) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    if request_id and task_id:
        _task_tokens[task_id] = _request_id.set(str(request_id))


@signals.task_postrun.connect
def _drop_request_id(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context (an eager task in a request)
            _request_id.reset(token)
