"""kansa serve's log lines: JSON with a UTC timestamp and the record's fields by default, or
text; and the configuration the workers are given."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

from kansa.server.logs import JsonFormatter, TextFormatter, log_config


def record(text: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("kansa.jobs", logging.INFO, __file__, 1, text, (), None)
    made.fields = fields
    return made


def test_json_lines_carry_time_level_logger_message_and_fields() -> None:
    line = orjson.loads(JsonFormatter().format(record("purge round", job="purge", purged=3)))
    assert line["time"].endswith("Z") and "T" in line["time"]
    assert (line["level"], line["logger"], line["message"]) == ("info", "kansa.jobs", "purge round")
    assert (line["job"], line["purged"], line["pid"]) == ("purge", 3, line["pid"])


def test_a_field_never_replaces_the_message() -> None:
    line = orjson.loads(JsonFormatter().format(record("real", message="forged")))
    assert line["message"] == "real"


def test_text_lines_are_for_people() -> None:
    text = TextFormatter().format(record("checkpoint round", signed=2))
    assert text.endswith("info kansa.jobs checkpoint round signed=2")


def test_the_configuration_can_silence_request_lines() -> None:
    for fmt in ("json", "text"):
        for requests in (True, False):
            config = log_config(fmt, requests)
            assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
            expected = "INFO" if requests else "WARNING"
            assert config["loggers"]["kansa.request"]["level"] == expected
            formatter = config["formatters"]["kansa"]["()"]
            assert formatter.endswith("JsonFormatter" if fmt == "json" else "TextFormatter")


def test_the_time_is_written_as_datetime_writes_it_at_any_moment() -> None:
    """The time's text is made once a second and the milliseconds added to it: the same text
    as datetime's, at the edges of a second too."""
    moments = [0.0, 1764998321.0, 1764998321.0004999, 1764998321.9995, 1764998321.9999996]
    moments += [n * 7919.123457 + n / 1013 for n in range(2000)]
    for moment in moments:
        made = record("x")
        made.created = moment
        expected = datetime.fromtimestamp(moment, tz=UTC).isoformat(timespec="milliseconds")
        assert orjson.loads(JsonFormatter().format(made))["time"] == expected[:-6] + "Z"
