"""Market identifiers as value types that reject invalid input with a clear message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ledger.domain.errors import InvalidIdentifier

# A tenant's name (also stated in the API's schema).
TENANT_PATTERN = r"[a-z0-9][a-z0-9_.\-]{0,62}"
_TENANT_RE = re.compile(TENANT_PATTERN)
_PARTY_RE = re.compile(r"[A-Z0-9_\-]{1,8}")
_BMU_RE = re.compile(r"(T_|E_|I_|2__|C__|V__|M_)[A-Z0-9_\-]+")
_MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)

# GSP Group -> distributor id of the licensed area.
GSP_GROUPS: dict[str, int] = {
    "_A": 10, "_B": 11, "_C": 12, "_D": 13, "_E": 14, "_F": 15, "_G": 16,
    "_H": 20, "_J": 19, "_K": 21, "_L": 22, "_M": 23, "_N": 18, "_P": 17,
}  # fmt: skip


def _ascii_upper(text: str) -> str:
    """``text`` stripped and upper-cased; "" (never valid) unless it is ASCII, since
    upper-casing turns some other letters into ASCII ones ("ß" into "SS")."""
    value = text.strip()
    return value.upper() if value.isascii() else ""


def tenant_id(text: str) -> str:
    """A tenant name: 1 to 63 lower-case letters, digits, '.', '_' or '-'."""
    if not _TENANT_RE.fullmatch(text):
        raise InvalidIdentifier(
            f"{text!r} is not a tenant name (1 to 63 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit)"
        )
    return text


def bsc_party_id(text: str) -> str:
    """A BSC Party Id: up to 8 characters, e.g. ``NGC`` or ``BRITGAS``."""
    value = _ascii_upper(text)
    if not _PARTY_RE.fullmatch(value):
        raise InvalidIdentifier(
            f"{text!r} is not a BSC Party Id (1 to 8 letters, digits, '_' or '-')"
        )
    return value


def bm_unit_id(text: str) -> str:
    """A BM Unit Id with a known prefix: ``T_``, ``E_``, ``I_``, ``2__``, ``C__``, ``V__``, ``M_``.

    ``T__`` and ``E__``, seen in real files, are accepted as ``T_``/``E_`` followed by ``_``.
    """
    value = _ascii_upper(text)
    if len(value) > 16 or not _BMU_RE.fullmatch(value):
        raise InvalidIdentifier(
            f"{text!r} is not a BM Unit Id (up to 16 characters starting "
            "T_, E_, I_, 2__, C__, V__ or M_)"
        )
    return value


BmUnitKind = Literal[
    "transmission",
    "embedded",
    "interconnector",
    "supplier base",
    "additional supplier",
    "secondary (VLP)",
    "miscellaneous",
]
# Longest prefixes first, so that e.g. "2__" is never mistaken for a shorter one.
_BMU_KINDS: tuple[tuple[str, BmUnitKind], ...] = (
    ("2__", "supplier base"),
    ("C__", "additional supplier"),
    ("V__", "secondary (VLP)"),
    ("T_", "transmission"),
    ("E_", "embedded"),
    ("I_", "interconnector"),
    ("M_", "miscellaneous"),
)


def bm_unit_kind(bmu_id: str) -> BmUnitKind:
    """What kind of BM Unit an id denotes, from its prefix (``T_DRAXX-1`` is transmission)."""
    value = bm_unit_id(bmu_id)
    return next(kind for prefix, kind in _BMU_KINDS if value.startswith(prefix))


def gsp_group(text: str) -> str:
    """A GSP Group Id, ``_A`` to ``_P`` (there is no ``_I`` or ``_O``)."""
    value = text.strip().upper()
    if value not in GSP_GROUPS:
        raise InvalidIdentifier(f"{text!r} is not a GSP Group (_A to _P, without _I and _O)")
    return value


def mpan_check_digit(first_twelve: str) -> int:
    """The check digit of an MPAN core from its first twelve digits."""
    return sum(int(d) * w for d, w in zip(first_twelve, _MPAN_WEIGHTS, strict=True)) % 11 % 10


def mpan_core(text: str) -> str:
    """A 13-digit MPAN core whose check digit is right."""
    value = text.strip()
    # isdigit() alone accepts non-ASCII digits such as '²' or Arabic-Indic ones.
    if len(value) != 13 or not (value.isascii() and value.isdigit()):
        raise InvalidIdentifier(f"{text!r} is not an MPAN core (13 digits)")
    expected = mpan_check_digit(value[:12])
    if int(value[12]) != expected:
        raise InvalidIdentifier(
            f"MPAN core {value} has check digit {value[12]}, expected {expected}"
        )
    return value


SubjectKind = Literal["system", "party", "bmu", "mpan"]
_VALIDATORS = {"party": bsc_party_id, "bmu": bm_unit_id, "mpan": mpan_core}


@dataclass(frozen=True, slots=True)
class Subject:
    """What a settlement value is about: ``system``, ``party:X``, ``bmu:X`` or ``mpan:X``."""

    kind: SubjectKind
    id: str = ""

    def __str__(self) -> str:
        return "system" if self.kind == "system" else f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Subject:
        raw = text.strip()
        if raw.lower() == "system":
            return cls("system")
        kind, sep, ident = raw.partition(":")
        kind = kind.lower()
        if not sep or kind not in _VALIDATORS:
            raise InvalidIdentifier(
                f"{text!r} is not a subject; write system, party:<BSC Party Id>, "
                "bmu:<BM Unit Id> or mpan:<MPAN core>"
            )
        return cls(kind, _VALIDATORS[kind](ident))  # type: ignore[arg-type]
