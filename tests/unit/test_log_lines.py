"""A log call gives its fields once; the text and JSON lines each write all of them."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator

import pytest

from crm_stub.logs import TEXT_FORMAT, JsonFormatter, TextFormatter


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, dict[str, io.StringIO]]]:
    """A logger whose records go to a text and a JSON handler, one buffer each."""
    logger = logging.getLogger("tests.log_lines")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    written = {"text": io.StringIO(), "json": io.StringIO()}
    handlers = [logging.StreamHandler(written["text"]), logging.StreamHandler(written["json"])]
    handlers[0].setFormatter(TextFormatter(TEXT_FORMAT))
    handlers[1].setFormatter(JsonFormatter())
    for handler in handlers:
        logger.addHandler(handler)
    yield logger, written
    for handler in handlers:
        logger.removeHandler(handler)


# (a field's value, how the text line writes it)
VALUES = [
    (42, "42"),
    (12.5, "12.5"),
    (None, "None"),
    ("succeeded", "succeeded"),
    ("HTTP 500", '"HTTP 500"'),  # a space would end the value
    ('say "hi"', '"say \\"hi\\""'),
    ("a=b", '"a=b"'),
    ("", '""'),
    ("line\nbreak\x1b[31m", '"line\\nbreak\\u001b[31m"'),  # one line, and nothing a terminal acts on
    ("para\u2028graph", '"para\\u2028graph"'),  # a line break to splitlines and editors, in both formats
]


@pytest.mark.parametrize(("value", "text"), VALUES)
def test_each_field_is_written_once_in_each_format(lines, value, text) -> None:
    logger, written = lines
    logger.info("attempt", extra={"delivery": 7, "error": value})
    assert written["text"].getvalue().endswith(f" tests.log_lines attempt delivery=7 error={text}\n")
    (line,) = written["json"].getvalue().splitlines()
    record = json.loads(line)
    assert {k: v for k, v in record.items() if k != "time"} == {
        "level": "INFO",
        "logger": "tests.log_lines",
        "message": "attempt",
        "delivery": 7,
        "error": value,
    }
    moment = dt.datetime.fromisoformat(record["time"])
    assert moment.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - moment) < dt.timedelta(seconds=10)


def test_a_line_without_fields_is_the_message_alone(lines) -> None:
    logger, written = lines
    logger.warning("worker %s: %d in flight at most", "w1", 4)
    assert written["text"].getvalue().endswith(" tests.log_lines worker w1: 4 in flight at most\n")
    assert json.loads(written["json"].getvalue())["message"] == "worker w1: 4 in flight at most"


def test_a_traceback_stays_in_its_one_json_line(lines) -> None:
    logger, written = lines
    try:
        raise RuntimeError("database away")
    except RuntimeError:
        logger.exception("claiming failed", extra={"retry_in_s": 0.5})
    (line,) = written["json"].getvalue().splitlines()
    record = json.loads(line)
    assert (record["level"], record["retry_in_s"]) == ("ERROR", 0.5)
    assert record["exception"].startswith("Traceback") and "RuntimeError: database away" in record["exception"]
    text = written["text"].getvalue()
    assert "claiming failed retry_in_s=0.5\n    Traceback" in text


# A message as a library writes it (Flask: "Exception on <request.path>", decoded from %0a and
# %1b), and an exception whose text came from elsewhere.
FORGED = "\n2026-12-02 00:00:00,000 crm_webhooks.engine.record attempt outcome=succeeded\x1b[2J"


def test_in_text_a_record_starts_every_line_its_data_cannot_forge_one(lines) -> None:
    logger, written = lines
    try:
        raise RuntimeError(f"receiver said{FORGED}")
    except RuntimeError:
        logger.exception("Exception on /leads%s [GET]", FORGED, stack_info=True)
    first, *continued = written["text"].getvalue().splitlines()
    assert first.endswith(
        " tests.log_lines Exception on /leads\\n2026-12-02 00:00:00,000 crm_webhooks.engine.record"
        " attempt outcome=succeeded\\x1b[2J [GET]"
    )
    assert continued and all(line.startswith("    ") for line in continued), continued
    assert "\x1b" not in written["text"].getvalue()
    assert len(written["json"].getvalue().splitlines()) == 1
