"""Log hygiene: tokens are redacted from every log record before any handler can write it.

Judges sign in with ``GET /judge/sign-in/raim_...``, and uvicorn's access log writes each
request line. ``redact_tokens_in_logs()`` installs, once per process, a record factory that
runs ``RedactTokens`` on every record as it is made: uvicorn's access and error logs, the
app's loggers and any library's, whatever handlers are configured later (a filter on a
logger would miss the records of its child loggers, and uvicorn replaces its handlers when
it configures logging). Messages, their arguments and exception texts are all redacted
(``app.security.redact_tokens``: the display prefix is kept, the rest replaced).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.security import TOKEN_PREFIX, redact_tokens

_installed = False
_lock = threading.Lock()


class RedactTokens(logging.Filter):
    """Rewrites a record in place so that no token-shaped text is left in it; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: _redact(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if TOKEN_PREFIX in text:
                record.exc_text = redact_tokens(text)
        return True


def _redact(value: Any) -> Any:
    """A string argument redacted; any other object too (as its text) if it holds a token."""
    if isinstance(value, str):
        return redact_tokens(value)
    if value is None or isinstance(value, int | float):
        return value  # kept as is: %d and %f need numbers
    text = str(value)
    return redact_tokens(text) if TOKEN_PREFIX in text else value


def redact_tokens_in_logs() -> None:
    """Make every log record of this process pass through RedactTokens (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        make_record = logging.getLogRecordFactory()
        redactor = RedactTokens()

        def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            redactor.filter(record)
            return record

        logging.setLogRecordFactory(redacted_record)
        _installed = True
