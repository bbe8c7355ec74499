"""Free text the ledger records (file names, actors, reasons): printable and bounded.

Whatever enters the event log must be something every view can hold: PostgreSQL text cannot
hold a NUL, and a name of megabytes is an attack, not a name. Such text is refused before
anything is written.
"""

from __future__ import annotations

from ledger.domain.errors import LedgerError

MAX_NAME_LENGTH = 255
MAX_REASON_LENGTH = 2000
EXCERPT_LENGTH = 40


class InvalidText(LedgerError, ValueError):
    """A name or reason is empty, too long or carries control characters."""


def plain_text(value: str, what: str, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """``value`` if it is non-blank printable text of at most ``max_length`` characters."""
    if not value.strip():
        raise InvalidText(f"{what} is empty")
    if len(value) > max_length:
        raise InvalidText(
            f"{what} is {len(value)} characters long; at most {max_length} are allowed"
        )
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise InvalidText(
            f"{what} {excerpt(value)} contains the control character U+{ord(bad):04X}; "
            "only printable text is allowed"
        )
    return value


def excerpt(text: str | bytes, limit: int = EXCERPT_LENGTH) -> str:
    """A short, quoted, escaped excerpt of ``text`` for a message: never the whole of it."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "backslashreplace")
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
