"""Settings read from the environment: each refused with a message that names it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.errors import ConfigurationError
from ledger.flows.canonical import ReadLimits
from ledger.service.settings import (
    DEFAULT_MAX_DOCUMENT_LINES,
    DEFAULT_PARSE_APART_BYTES,
    max_document_lines,
    parse_apart_bytes,
    read_limits,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, DEFAULT_PARSE_APART_BYTES),
        ("", DEFAULT_PARSE_APART_BYTES),
        ("0", 0),
        (" 1048576 ", 1 << 20),
        ("never", None),
        ("Never", None),
    ],
)
def test_the_size_from_which_files_are_read_apart(
    monkeypatch: pytest.MonkeyPatch, text: str | None, expected: int | None
) -> None:
    if text is None:
        monkeypatch.delenv("LEDGER_PARSE_APART_BYTES", raising=False)
    else:
        monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", text)
    assert parse_apart_bytes() == expected


@pytest.mark.parametrize("text", ["-1", "4MiB", "1e6", "always", "²"])
def test_a_size_that_is_no_whole_number_of_bytes_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", text)
    with pytest.raises(ConfigurationError, match="LEDGER_PARSE_APART_BYTES=.*whole number"):
        parse_apart_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, DEFAULT_MAX_DOCUMENT_LINES), ("", DEFAULT_MAX_DOCUMENT_LINES), (" 25 ", 25), ("1", 1)],
)
def test_the_most_lines_a_document_may_have(
    monkeypatch: pytest.MonkeyPatch, text: str | None, expected: int
) -> None:
    if text is None:
        monkeypatch.delenv("LEDGER_MAX_DOCUMENT_LINES", raising=False)
    else:
        monkeypatch.setenv("LEDGER_MAX_DOCUMENT_LINES", text)
    assert max_document_lines() == expected


@pytest.mark.parametrize("text", ["0", "-5", "1e4", "10.5", "many", "٣", "²", "9" * 5000])
def test_a_limit_of_document_lines_that_is_no_whole_number_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("LEDGER_MAX_DOCUMENT_LINES", text)
    with pytest.raises(ConfigurationError, match="^LEDGER_MAX_DOCUMENT_LINES=.* must be a whole"):
        max_document_lines()


LIMITS = ("LEDGER_MAX_WARNINGS", "LEDGER_MAX_KEPT_PER_PERIOD", "LEDGER_MAX_KEPT_PER_FILE")


def test_the_read_limits_default_to_the_documented_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*LIMITS, "LEDGER_FUTURE_TOLERANCE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert read_limits() == ReadLimits(10_000, 10_000, 5_000_000, None, timedelta(minutes=5))
    monkeypatch.setenv("LEDGER_MAX_WARNINGS", "0")
    monkeypatch.setenv("LEDGER_MAX_KEPT_PER_PERIOD", " 60000 ")
    monkeypatch.setenv("LEDGER_MAX_KEPT_PER_FILE", "1")
    monkeypatch.setenv("LEDGER_FUTURE_TOLERANCE_SECONDS", "0")
    assert read_limits() == ReadLimits(0, 60_000, 1, None, timedelta(0))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("LEDGER_MAX_WARNINGS", "-1"),
        ("LEDGER_MAX_WARNINGS", "1e4"),
        ("LEDGER_MAX_KEPT_PER_PERIOD", "0"),
        ("LEDGER_MAX_KEPT_PER_PERIOD", "²"),
        ("LEDGER_MAX_KEPT_PER_FILE", "10,000"),
        ("LEDGER_MAX_KEPT_PER_FILE", "9" * 5000),  # beyond what int() converts
        ("LEDGER_FUTURE_TOLERANCE_SECONDS", "5m"),
        ("LEDGER_FUTURE_TOLERANCE_SECONDS", "-300"),
    ],
)
def test_a_read_limit_that_is_no_whole_number_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    monkeypatch.setenv(name, text)
    with pytest.raises(ConfigurationError, match=f"^{name}=.* must be a whole number"):
        read_limits()
