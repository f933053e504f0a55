"""JSON log lines: their fields, the request and trace in play, and no secrets anywhere."""

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from adapters.telemetry.console import ConsoleFormatter
from adapters.telemetry.logs import JsonFormatter, request_id, scrub


@pytest.fixture
def captured() -> logging.Logger:
    logger = logging.getLogger("test.telemetry.logs")
    logger.handlers.clear()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.stream = stream  # type: ignore[attr-defined]
    return logger


def lines(logger: logging.Logger) -> list[dict]:
    return [json.loads(line) for line in logger.stream.getvalue().splitlines()]  # type: ignore[attr-defined]


def test_a_line_is_one_json_object_with_time_level_logger_and_message(captured):
    captured.info("run %s started", "r-1", extra={"run_id": "r-1", "position": 7})

    (line,) = lines(captured)
    assert line["level"] == "INFO"
    assert line["logger"] == "test.telemetry.logs"
    assert line["message"] == "run r-1 started"
    assert line["run_id"] == "r-1" and line["position"] == 7
    assert line["time"].endswith("+00:00")
    assert "request_id" not in line and "trace_id" not in line


def test_the_request_id_and_the_active_trace_are_on_every_line(captured):
    tracer = TracerProvider().get_tracer("test")
    token = request_id.set("req-42")
    try:
        with tracer.start_as_current_span("work") as span:
            captured.warning("inside")
            context = span.get_span_context()
    finally:
        request_id.reset(token)

    (line,) = lines(captured)
    assert line["request_id"] == "req-42"
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_an_exception_is_logged_with_its_traceback_scrubbed(captured):
    try:
        raise RuntimeError("connect failed for postgresql://app:hunter2@db:5432/x")
    except RuntimeError:
        captured.exception("boom")

    (line,) = lines(captured)
    assert "RuntimeError" in line["exception"]
    assert "hunter2" not in line["exception"]


TOKEN = "flk_0123456789abcdef0123456789abcdef_s3cr3tPartOfTheKey-xyz"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"key {TOKEN} used", "s3cr3tPartOfTheKey"),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        (f"jwt {JWT}", "c2lnbmF0dXJlLXBhcnQ"),
        ("postgresql://flow:pa55word@db/flowledger", "pa55word"),
        ("webhook secret=topsecretvalue", "topsecretvalue"),
        ('{"password": "p@ss-w0rd"}', "p@ss-w0rd"),
        ("X-API-Key: flk_aa_bb", "flk_aa_bb"),
        ("cipher_key=QUJDREVGR0g=", "QUJDREVGR0g="),
    ],
)
def test_credentials_never_reach_a_line(captured, text, secret):
    captured.info(text)
    captured.info("message", extra={"detail": text})
    logging.getLogger("test.telemetry.logs").info("%s", text)

    output = captured.stream.getvalue()  # type: ignore[attr-defined]
    assert secret not in output
    assert secret not in scrub(text)


def test_ordinary_text_is_left_alone():
    text = "run 5 of pipeline build-and-test succeeded in 12.5s (position 42)"
    assert scrub(text) == text


def test_the_text_format_scrubs_too():
    record = logging.LogRecord("x", logging.INFO, "", 0, "token=%s", (TOKEN,), None)
    assert "s3cr3tPartOfTheKey" not in ConsoleFormatter(colour=False).format(record)
