"""Keeps play tokens out of logs: uvicorn's access log writes each request's path with its query string, and viewer
URLs carry ``?token=...``. The filter rewrites the token's value to ``***`` before the line is formatted."""

from __future__ import annotations

import logging
import re

TOKEN_PATTERN = re.compile(r"(?i)\b(token|access_token)=[^&\s\"]*")


def redact(text: str) -> str:
    return TOKEN_PATTERN.sub(r"\1=***", text)


class TokenRedactingFilter(logging.Filter):
    """Redacts token query parameters in a record's message and arguments (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def install_token_redaction(*logger_names: str) -> None:
    """Add the filter to each logger once (``uvicorn.access`` and ``uvicorn.error`` by default)."""
    for name in logger_names or ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
