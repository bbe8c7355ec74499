"""Settings read from the environment: each refused with a message that names it."""

from __future__ import annotations

import pytest

from ledger.domain.errors import ConfigurationError
from ledger.service.settings import DEFAULT_PARSE_APART_BYTES, parse_apart_bytes


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
