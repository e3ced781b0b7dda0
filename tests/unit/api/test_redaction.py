"""Play tokens never reach a log line, whichever way uvicorn hands the path to the logger."""

from __future__ import annotations

import logging

import pytest

from xueliang.api.redaction import TokenRedactingFilter, install_token_redaction, redact


def test_redact_keeps_the_rest_of_the_url() -> None:
    assert redact("/media/v1/sessions/s/live.flv?token=eyJ.abc.def&hevc=enhanced") == (
        "/media/v1/sessions/s/live.flv?token=***&hevc=enhanced"
    )
    assert redact("GET /x?access_token=abc HTTP/1.1") == "GET /x?access_token=*** HTTP/1.1"
    assert redact("/api/v1/cameras?q=token") == "/api/v1/cameras?q=token"


def test_the_access_log_line_carries_no_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access.redaction")
    logger.addFilter(TokenRedactingFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/m/live.flv?token=SECRET", "1.1", 200)
    assert "SECRET" not in caplog.text
    assert "token=***" in caplog.text


def test_installed_once_on_uvicorn_loggers() -> None:
    install_token_redaction()
    install_token_redaction()
    filters = [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, TokenRedactingFilter)]
    assert len(filters) == 1
