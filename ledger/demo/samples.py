"""Synthetic SAA-I014 settlement reports shaped like real ones, for the demo, tests and benchmarks.

Where the layout comes from. Record ids, field order and field counts are the ledger's layout
tables (:mod:`ledger.flows.record_layouts`, ``ledger/flows/layouts/saa_i014.toml``): for S0141
Elexon's IDD tables as generated in consus-energy/consus-elexon-settlement
(``src/consus_elexon_settlement/idd/spec_saa.py``), for S0142 the public profile of two real
portal files in jordan-dimov/grid-mysteries (``archives/elexon-s0142/SCHEMA.md``). What is
written where (blanks, constants, signs, which units carry the P415 compensation fields)
follows those profiles. Values are synthetic.

An S0142 version 013 (every party, as the P114 portal publishes it)::

    AAA|S0142013|D|<created>|SA|UKDC|PB|PORTAL|<sequence>|OPER|
    SRH|<date>|<run>|<SAA run>|<CDCA run>|<date>|<CDCA run>|<SSR run>|NGC|
    per settlement period: SPI, MD1 x 2, DB1 x 0-6, TRA x 4, BPI per BM Unit of every party
    per party: BPH, APC, then per period SP7, SSD, MD2 x 2, PPC, DB2 (the period's DB1
      copied), APD P and C with APB children, and BP7 per BM Unit of the party, each followed
      by its children RUE, RUI, RDE, RDI, BO4, BO3, MVR (when it has them)
    ZZZ|<records>|<checksum>|

An S0141 version 013 (one party) is AAA, SRH (the party), APC, then per period SPH, PPC, SSD,
MD2, DB2, APD with APB, and BPD per BM Unit of the party with the same children, S0141 naming
its bid-offer records BOD (with its mandatory BOS) and BOA (with its mandatory BO5).

Values are deterministic in (seed, settlement date, subject, period, revision); drawn values
move on every revision (fields the real files show as constant, such as an always-0 cashflow,
stay constant). System data is the same under every party, the SPI repeats the SSD's values where
the two records share a field, and a BPI repeats its BM Unit's BP7 values. Memory does not
grow with the file: a full-size S0142 (:func:`market_size_ids`) streams.
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import random
import string
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

from ledger.domain.identifiers import GSP_GROUPS, bm_unit_id, bsc_party_id
from ledger.domain.runs import RunType
from ledger.domain.settlement_time import period_start_utc, periods_in_day
from ledger.flows.idd import ChecksumAccumulator, format_decimal
from ledger.flows.record_layouts import RecordLayout, layout_for

__all__ = [
    "FILE_TYPES",
    "SYSTEM_OPERATOR",
    "default_run_number",
    "market_size_ids",
    "portal_file_name",
    "sample_bm_unit_ids",
    "sample_bm_unit_period_values",
    "sample_daily_values",
    "sample_party_ids",
    "sample_party_period_values",
    "sample_system_period_values",
    "write_portal_file",
    "write_settlement_report",
]

FILE_TYPES = {"S0141": "S0141013", "S0142": "S0142013"}
SYSTEM_OPERATOR = "NGC"
Flow = Literal["S0141", "S0142"]

_S0142 = FILE_TYPES["S0142"]
_BOM = b"\xef\xbb\xbf"
_FLUSH_EVERY = 4096
_GSP_LETTERS = tuple(group[1] for group in GSP_GROUPS)


# --- Run numbers ------------------------------------------------------------------------------


def default_run_number(run_type: RunType | str) -> int:
    """The SAA run number a run has when each run type of the day ran once.

    Real files count every run of a settlement day (an R3 is run 5, an SF run 2): II 1, SF 2,
    R1 3, R2 4, R3 5, RF 6, DF 7. A re-run of a type takes the next number; callers decide.
    """
    return RunType(run_type).maturity_rank + 1


def _ssr_run_number(settlement_date: date, run_type: RunType, run_number: int) -> int:
    """A plausible SVAA SSR run number: a global six-digit id (``166705`` in a real file)."""
    key = settlement_date.toordinal() * 8 + run_type.maturity_rank * 97 + run_number
    return 100_000 + key % 900_000


# --- Drawing values ---------------------------------------------------------------------------


class _V(NamedTuple):
    """How to draw a number: between ``low`` and ``high`` (in the field's units), zero on all
    but ``nonzero``/256 of rows, blank on all but ``present``/256 of rows, with ``places``
    decimals (default: the field's scale). Fields of one record with the same ``present``
    share their fate: they are all blank or all written."""

    low: str
    high: str
    nonzero: int = 256
    present: int = 256
    places: int | None = None


class _Pick(NamedTuple):
    """One of ``choices`` (e.g. ``T``/``F``), blank on all but ``present``/256 of rows."""

    choices: tuple[str, ...]
    present: int = 256


class _Draw(NamedTuple):
    """A compiled :class:`_V`: whole numbers of ``10**-places`` units."""

    low: int
    span: int
    steps: int
    places: int
    nonzero: int
    present: int


_Rule = str | _V | _Pick
_Plan = tuple[str | _Draw | _Pick, ...]
_Texts = list[str]


def _compile_rule(rule: _V, scale: int | None) -> _Draw:
    places = rule.places if rule.places is not None else scale or 0
    low, high = (int(Decimal(v).scaleb(places)) for v in (rule.low, rule.high))
    if high < low:
        raise ValueError(f"empty range {rule.low}..{rule.high}")
    return _Draw(
        low, high - low + 1, max(1, (high - low) // 400), places, rule.nonzero, rule.present
    )


@cache
def _struct(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}Q")


def _chunks(key: str, n: int) -> tuple[int, ...]:
    """``n`` pseudo-random 64-bit numbers from ``key``."""
    return _struct(n).unpack(hashlib.shake_128(key.encode()).digest(8 * n))


def _fmt(value: int, places: int) -> str:
    """IDD decimal text of ``value * 10**-places``: no trailing zeros, ``-`` for negatives."""
    if not places:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{places}d}".rstrip("0")


def _value(rule: _Draw, chunk: int, revision: int) -> int:
    """A value that moves by a fixed step (within its range) on every revision."""
    if chunk >> 56 >= rule.nonzero:
        return 0
    step = 1 + (chunk >> 32) % rule.steps
    if chunk >> 55 & 1:
        step = -step
    return rule.low + (chunk + revision * step) % rule.span


def _one(rule: _Draw, key: str, revision: int) -> str:
    return _fmt(_value(rule, _chunks(key, 1)[0], revision), rule.places)


def _texts(plan: _Plan, key: str, revision: int) -> _Texts:
    """The fields of one record drawn by ``plan``; deterministic in ``key`` and ``revision``."""
    chunks = _chunks(key, len(plan) + 1)
    gate = chunks[-1] & 0xFF
    out: _Texts = []
    for rule, chunk in zip(plan, chunks, strict=False):
        if isinstance(rule, str):
            out.append(rule)
        elif gate >= rule.present:
            out.append("")
        elif isinstance(rule, _Pick):
            out.append(rule.choices[chunk % len(rule.choices)])
        else:
            out.append(_fmt(_value(rule, chunk, revision), rule.places))
    return out


# --- Value profiles, by record type and 1-based position (from the real files' profiles) ------

_PPC: dict[int, _Rule] = {
    1: "0",  # BSSC limited cost allocation: always 0 in the real files
    2: _V("-250000", "250000"),  # BM Unit cashflow
    3: _V("-60000", "60000"),  # energy imbalance cashflow
    4: "0",  # information imbalance cashflow: always 0
    5: _V("0", "2000", nonzero=64),  # non-delivery charge
    6: _V("-5000", "5000"),  # residual cashflow reallocation charge
    # 7, 8: RR cashflows, blank since TERRE ended
    9: _V("0", "50"),  # period VLP compensation cashflow (parties impacted by WMA)
    10: _V("-50", "500"),  # period supplier compensation cashflow (parties impacted by WMA)
}
_SSD: dict[int, _Rule] = {
    1: "0",
    2: _V("-500000", "500000"),  # system operator cashflow
    3: "0",
    4: "0",
    5: _V("-20", "400"),  # system buy price; 6 (system sell price) is a copy: single price
    7: _Pick(("N", "P")),  # price derivation code
    8: _V("-5000000", "5000000"),
    9: _V("-5000000", "5000000"),
    10: _V("0", "20000", nonzero=64),
    11: _V("-5000", "0"),  # system total accepted bid volume (= SPI 23)
    13: _V("-50", "0", nonzero=160),
    14: _V("-50000", "50000"),
    16: _V("0", "5000"),  # total system accepted offer volume (= SPI 24)
    18: _V("-1500", "1500"),  # net imbalance volume
    19: _V("0", "2000"),  # total NIV tagged volume (= SPI 11)
    23: _V("0", "500"),
    24: _V("-1500", "1500"),
    25: _V("0", "60000"),
    26: _V("-500000", "500000"),
    27: "0",
    34: "0",
    35: "0",
    36: _V("-200", "200"),  # total period ABSV (= SPI 7)
    37: _V("-1000", "1000"),
    38: _V("-1000", "1000"),
    # 47 copies 11 and 48 copies 16, as on the real files' samples
    49: _V("-300", "0", nonzero=50),
    50: _V("0", "300", nonzero=26),
    51: _V("-50", "0", nonzero=128),
    52: _V("0", "200", nonzero=96),
    53: _V("-500", "0", nonzero=85),
    54: _V("0", "400", nonzero=140),
    55: _V("-500", "0", nonzero=85),
    56: _V("0", "400", nonzero=140),
    57: _V("-200", "0", nonzero=50),
    58: _V("0", "150", nonzero=16),
    59: _V("-150", "0", nonzero=16),
    60: _V("0", "100", nonzero=16),
    61: _V("20", "400", present=64),  # replacement price: blank on 3 lines in 4
    62: _V("0", "1", present=64, places=1),
    63: _Pick(("F", "T")),  # STOR availability window flag
    64: _V("0", "0.00002", nonzero=16),  # loss of load probability
    65: _V("20000", "40000", places=3),  # de-rated margin
    66: "6000",  # value of lost load
    67: _V("0", "0.1", nonzero=32, present=128),  # reserve scarcity price
    # 68-74: TERRE fields, always blank
    75: _V("0", "50"),  # P415: system period compensation volume
    76: _V("-20000", "-5000"),  # supplier compensation denominator
    # 77: supplier sourcing cost, one value for the day (= SPI 53)
    78: _V("0", "2000"),  # 79 copies 78, as on every real sample
}
# The SPI positions no source identifies; its named positions repeat the SSD's values.
_SPI: dict[int, _Rule] = {
    5: _V("-20000", "-10000", places=3),
    6: _V("10000", "20000", places=3),
    8: "0",
    9: "0",
    12: "T",
    13: "10",
    14: "0.1",
    18: "0",
    22: "0",
}
_MD: dict[int, _Rule] = {2: "25", 3: _V("0", "300"), 4: _V("0", "5000")}
_DB: dict[int, _Rule] = {
    2: _V("-50000", "50000", present=230),
    3: _V("-500", "500"),
    4: _V("-500", "500"),
    5: "0",
    6: _V("-500", "500"),
    7: _Pick(("T", "F")),
    8: "F",
    9: "F",
    10: _Pick(("Northsea Flex A/S", "Harbour Reserve Ltd", "Example Grid Services")),
    11: _Pick(("IND-NSFX1", "HRB-BESS2", "EGS-DSR-03")),
    12: _Pick(("Tendered", "Non-tendered")),
    13: _Pick(("System", "Non-BM FR", "Energy")),
}
_TRA: dict[int, _Rule] = {2: _V("-500", "500")}
_TRADING_UNITS = (
    "DEFAULT__A",
    "DEFAULT__N",
    "Marsh Lane Trading Unit",
    "Estuary Sole Trading Unit",
)
_APD: dict[int, _Rule] = {
    2: "0",
    3: _V("-30000", "30000"),
    4: "0",
    5: _V("-2500", "2500"),
    6: _V("-5000", "5000"),
    7: _V("-100", "100", nonzero=64),
    8: _V("-500", "500"),
    9: _V("-5000", "5000"),
    10: _V("0", "0.05"),
    11: _V("0", "0.05"),
    12: _V("0", "20"),
    13: _V("0", "1"),
    14: _V("0", "10"),
}
_BP7_COMMON: dict[int, _Rule] = {
    2: "0",  # information imbalance cashflow: always 0
    3: _V("0", "500", nonzero=3),  # non-delivery charge
    4: "0",  # period FPN: 0 for supplier and secondary units
    5: "0",
    6: _V("0", "10", nonzero=80),
    7: "0",
    9: _V("-5", "0", nonzero=2),
    10: _V("0", "5", nonzero=2),
    # 11: transmission loss factor, one per GSP Group; 13: trading unit name (the unit id)
    12: _V("0.95", "1.01"),  # transmission loss multiplier
    14: _V("-2000", "2000", nonzero=200),
    15: _V("-20", "20", nonzero=4),  # applicable balancing services volume
    16: _V("0", "5", nonzero=4),
    17: _V("-2", "2", nonzero=2),
}
_BP7_GENERATION: dict[int, _Rule] = {
    4: _V("-600", "600", nonzero=96),
    5: _V("-50", "50", nonzero=24),
    7: _V("-600", "600", nonzero=96),
    8: _V("-600", "600", nonzero=110),
}
_BP7: dict[str, dict[int, _Rule]] = {
    "generation": {**_BP7_COMMON, **_BP7_GENERATION},
    "interconnector": {**_BP7_COMMON, **_BP7_GENERATION, 12: "1"},
    # 2__: supplier compensation (22, and 25 = 22 x supplier sourcing cost) on a few lines,
    # final demand (24) on every line
    "supplier base": {
        **_BP7_COMMON,
        8: _V("-500", "0", nonzero=128),
        22: _V("0", "2", present=10),
        24: _V("-300", "0", nonzero=64),
    },
    "additional supplier": {
        **_BP7_COMMON,
        8: _V("-50", "0", nonzero=40),
        24: _V("-50", "0", nonzero=40),
    },
    # V__: settlement expected volume, and the P415 secondary-unit fields on some lines
    "secondary": {
        **_BP7_COMMON,
        8: _V("-20", "20", nonzero=64),
        18: _V("-2", "2"),
        19: _V("0", "3", present=96),
        20: _Pick(("1",), present=96),
        21: _Pick(("F",), present=96),
        23: _V("0", "3", present=96),
    },
}
_RATE: dict[int, _Rule] = {
    1: _V("0.5", "99.9"),
    2: _V("1", "500", present=64),
    3: _V("0.5", "99.9", present=64),
    4: _V("1", "500", present=32),
    5: _V("0.5", "99.9", present=32),
}
_BID_OFFER: dict[int, _Rule] = {
    2: _V("-50", "150"),
    3: _V("50", "400"),
    4: _V("-100", "0"),
    5: _V("0", "100"),
    8: _V("-100", "0"),
    9: _V("0", "100"),
    10: _V("-20", "0", nonzero=32),
    11: "0",
    12: _V("-20", "0", nonzero=64),
    13: _V("0", "50", nonzero=64),
    14: _V("-5000", "5000"),
    15: _V("0", "20000"),
}
_ACCEPTANCE: dict[int, _Rule] = {
    1: _V("10000", "99999"),
    3: _Pick(("T", "F")),
    4: _Pick(("T", "F")),
    5: "F",
    6: "F",
}
_SPOT: dict[int, _Rule] = {1: "0", 2: _V("-100", "100"), 3: "30", 4: _V("-100", "100")}
_MVR: dict[str, dict[int, _Rule]] = {
    "P": {3: _V("0", "500"), 4: "0", 5: "100"},
    "C": {3: _V("-500", "0"), 4: "0", 5: "100"},
}
_PROFILES: dict[str, Mapping[int, _Rule]] = {
    "PPC": _PPC,
    "SSD": _SSD,
    "SPI": _SPI,
    "MD": _MD,
    "DB": _DB,
    "TRA": _TRA,
    "APD": _APD,
    "RATE": _RATE,
    "BID_OFFER": _BID_OFFER,
    "ACCEPTANCE": _ACCEPTANCE,
    "SPOT": _SPOT,
    **{f"BP7 {kind}": rules for kind, rules in _BP7.items()},
    **{f"MVR {flag}": rules for flag, rules in _MVR.items()},
}
_SUPPLIER_SOURCING_COST = _compile_rule(_V("60", "120"), 2)
_LOSS_FACTOR = _compile_rule(_V("-0.03", "0.03"), 7)
_DAILY_SO_CASHFLOW = _compile_rule(_V("-5000000", "5000000"), 2)


@cache
def _record(file_type: str, record_type: str) -> RecordLayout:
    layout, _ = layout_for(file_type)
    return layout.records[record_type]


@cache
def _plan(file_type: str, record_type: str, profile: str) -> _Plan:
    """The drawing plan of a record: one rule per field of its layout (blank if none)."""
    record = _record(file_type, record_type)
    rules = _PROFILES[profile]
    if max(rules, default=0) > len(record.fields):
        raise ValueError(f"profile {profile} has more fields than {file_type} {record_type}")
    plan: list[str | _Draw | _Pick] = []
    for field in record.fields:
        rule = rules.get(field.position, "")
        plan.append(_compile_rule(rule, field.scale) if isinstance(rule, _V) else rule)
    return tuple(plan)


@cache
def _shared_positions(file_type: str, record_type: str, source: str) -> tuple[tuple[int, int], ...]:
    """(index in record, index in source) of the fields the two records share by name."""
    names = {n: i for i, n in enumerate(_record(file_type, source).names)}
    record = _record(file_type, record_type)
    return tuple((i, names[n]) for i, n in enumerate(record.names) if n in names)


def _decimals(record: RecordLayout, texts: _Texts) -> dict[str, Decimal]:
    """The decimal fields written (not blank), by layout name."""
    return {
        field.name: Decimal(text)
        for field, text in zip(record.fields, texts, strict=True)
        if field.is_decimal and text
    }


# --- One settlement day's values --------------------------------------------------------------


class _Day:
    """Seed, settlement date and revision: everything a value depends on besides its subject."""

    __slots__ = ("prefix", "revision", "seed", "settlement_date", "supplier_sourcing_cost")

    def __init__(self, seed: int, settlement_date: date, revision: int) -> None:
        self.seed = seed
        self.settlement_date = settlement_date
        self.revision = revision
        self.prefix = f"{seed}|{settlement_date.isoformat()}|"
        self.supplier_sourcing_cost = _one(
            _SUPPLIER_SOURCING_COST, self.key("system", 0, "SSC"), revision
        )

    def key(self, subject: str, period: int, part: str) -> str:
        return f"{self.prefix}{subject}|{period}|{part}"

    def texts(self, record_type: str, profile: str, key: str, file_type: str = _S0142) -> _Texts:
        return _texts(_plan(file_type, record_type, profile), key, self.revision)


def _is_wma_party(day: _Day, party: str) -> bool:
    """Whether a party carries P415 compensation cashflows (a third of them)."""
    return _chunks(day.key(f"party:{party}", 0, "WMA"), 1)[0] % 3 == 0


def _ppc_texts(day: _Day, party: str, period: int) -> _Texts:
    texts = day.texts("PPC", "PPC", day.key(f"party:{party}", period, "PPC"))
    if not _is_wma_party(day, party):
        texts[8] = texts[9] = ""
    return texts


def _total(column: Sequence[str]) -> str:
    return format_decimal(sum((Decimal(t) for t in column), Decimal(0)))


def _apc_texts(day: _Day, party: str, ppcs: Sequence[_Texts]) -> _Texts:
    """APC: the day's sums of the PPC cashflows (1-6; 11-12 from PPC 9-10); the daily system
    operator cashflow (7) is non-zero for the system operator only; 8-10 blank."""
    columns = list(zip(*ppcs, strict=True))
    texts = [_total(columns[i]) for i in range(6)]
    so_cashflow = "0"
    if party == SYSTEM_OPERATOR:
        so_cashflow = _one(_DAILY_SO_CASHFLOW, day.key(f"party:{party}", 0, "SO"), day.revision)
    texts += [so_cashflow, "", "", ""]
    texts += [_total(columns[i]) if columns[i][0] else "" for i in (8, 9)]
    return texts


def _ssd_texts(day: _Day, period: int) -> _Texts:
    texts = day.texts("SSD", "SSD", day.key("system", period, "SSD"))
    texts[5] = texts[4]  # system sell price = system buy price (single price since P305)
    texts[46] = texts[10]  # tagged accepted bid volume, as on the real files' samples
    texts[47] = texts[15]  # tagged accepted offer volume
    texts[76] = day.supplier_sourcing_cost
    texts[78] = texts[77]  # total system supplier compensation cashflow
    return texts


def _spi_texts(day: _Day, period: int, ssd: _Texts) -> _Texts:
    texts = day.texts("SPI", "SPI", day.key("system", period, "SPI"))
    texts[0] = str(period)
    for i, j in _shared_positions(_S0142, "SPI", "SSD"):
        texts[i] = ssd[j]
    return texts


class _System(NamedTuple):
    """One settlement period's system data: written once in the S0142's system block and
    again under every party."""

    spi: _Texts
    ssd: _Texts
    market_index: list[_Texts]
    adjustments: list[_Texts]
    trading_units: list[_Texts]


def _system(day: _Day, period: int) -> _System:
    ssd = _ssd_texts(day, period)
    market_index = []
    for provider in ("N2EXMIDP", "APXMIDP"):
        texts = day.texts("MD1", "MD", day.key("system", period, provider))
        market_index.append([provider, *texts[1:]])
    adjustments = []
    for action in range(1, 1 + _chunks(day.key("system", period, "DB count"), 1)[0] % 7):
        texts = day.texts("DB1", "DB", day.key("system", period, f"DB{action}"))
        adjustments.append([str(action), *texts[1:]])
    trading_units = []
    for name in _TRADING_UNITS:
        texts = day.texts("TRA", "TRA", day.key("system", period, f"TRA {name}"))
        trading_units.append([name, *texts[1:]])
    return _System(_spi_texts(day, period, ssd), ssd, market_index, adjustments, trading_units)


# --- BM Units -----------------------------------------------------------------------------------

_KINDS = (
    ("2__", "supplier base"),
    ("C__", "additional supplier"),
    ("V__", "secondary"),
    ("I_", "interconnector"),
)
_SHAPED = ("2__", "C__", "V__", "T__")  # <prefix><GSP group letter><4 chars><3 digits>


def _kind(unit: str) -> str:
    return next((kind for prefix, kind in _KINDS if unit.startswith(prefix)), "generation")


def _gsp_letter(unit: str) -> str:
    """The GSP Group a unit's loss factor follows: its letter for the shaped ids, else a
    deterministic pick."""
    if unit.startswith(_SHAPED) and unit[3:4] in _GSP_LETTERS:
        return unit[3]
    return _GSP_LETTERS[zlib.crc32(unit.encode()) % len(_GSP_LETTERS)]


@lru_cache(maxsize=256)
def _loss_factor(seed: int, settlement_date: date, letter: str) -> str:
    """One transmission loss factor per GSP Group and day (14 distinct values in real files)."""
    return _one(_LOSS_FACTOR, f"{seed}|{settlement_date.isoformat()}|TLF|{letter}", 0)


def _trading_unit_text(unit: str) -> str:
    """BPI position 2: ``DEFAULT__<group>`` for supplier units, blank for the others."""
    if unit.startswith(("2__", "C__")) and unit[3:4] in _GSP_LETTERS:
        return f"DEFAULT__{unit[3]}"
    return ""


def _bm_unit_texts(day: _Day, unit: str, period: int) -> _Texts:
    """BP7 (S0142) / BPD (S0141) fields of a unit in a period."""
    texts = day.texts("BP7", f"BP7 {_kind(unit)}", day.key(f"bmu:{unit}", period, "BP7"))
    texts[0] = texts[12] = unit  # BM Unit Id; trading unit name (the unit id on real samples)
    texts[10] = _loss_factor(day.seed, day.settlement_date, _gsp_letter(unit))
    if texts[21]:  # supplier compensation cashflow = volume x supplier sourcing cost
        cashflow = Decimal(texts[21]) * Decimal(day.supplier_sourcing_cost)
        texts[24] = format_decimal(cashflow.quantize(Decimal("0.01")))
    return texts


def _bpi_texts(unit: str, bp7: _Texts) -> _Texts:
    texts = ["", _trading_unit_text(unit), "", "", "", ""]
    for i, j in _shared_positions(_S0142, "BPI", "BP7"):
        texts[i] = bp7[j]
    return texts


@lru_cache(maxsize=65_536)
def _has_mvr(seed: int, unit: str) -> bool:
    """Whether a unit reports metered volume reallocation (MVR/APB): a fifth of them."""
    return _chunks(f"{seed}|MVR|{unit}", 1)[0] % 5 == 0


def _mvr_flag(unit: str) -> str:
    return "C" if unit.startswith(("2__", "C__")) else "P"


def _mvr_texts(day: _Day, party: str, unit: str, period: int) -> _Texts:
    flag = _mvr_flag(unit)
    texts = day.texts("MVR", f"MVR {flag}", day.key(f"bmu:{unit}", period, "MVR"))
    return [party, flag, *texts[2:]]


class _Shape(NamedTuple):
    """What differs between the two sub-flows."""

    file_type: str
    period_header: str
    bm_unit: str
    bid_offer: tuple[str, ...]  # record, then its mandatory spot-point child (S0141)
    acceptance: tuple[str, ...]
    system_block: bool  # S0142: SPI block first, BPH per party, SSD before PPC


_SHAPES = {
    "S0141": _Shape("S0141013", "SPH", "BPD", ("BOD", "BOS"), ("BOA", "BO5"), False),
    "S0142": _Shape("S0142013", "SP7", "BP7", ("BO4",), ("BO3",), True),
}


def _children(
    day: _Day, shape: _Shape, party: str, unit: str, period: int
) -> Iterator[tuple[str, _Texts]]:
    """A BM Unit's child records in a period, in IDD order: ramp rates, bid-offer data,
    acceptances, metered volume reallocation."""
    kind = _kind(unit)
    roll = _chunks(day.key(f"bmu:{unit}", period, "children"), 1)[0]
    if kind == "generation":
        for record in ("RUE", "RUI", "RDE", "RDI") if roll & 1 else ("RUE", "RDE"):
            yield record, day.texts(record, "RATE", day.key(f"bmu:{unit}", period, record))
    if kind in ("generation", "interconnector") and (roll >> 8) & 0xFF < 20:
        yield from _bid_offer(day, shape, unit, period, 1 + (roll >> 16) % 2)
    if _has_mvr(day.seed, unit):
        yield "MVR", _mvr_texts(day, party, unit, period)


def _bid_offer(
    day: _Day, shape: _Shape, unit: str, period: int, pairs: int
) -> Iterator[tuple[str, _Texts]]:
    ft = shape.file_type
    for pair in range(1, pairs + 1):
        number = str(pair if pair % 2 else -pair // 2)
        texts = day.texts(
            shape.bid_offer[0], "BID_OFFER", day.key(f"bmu:{unit}", period, f"BO{pair}"), ft
        )
        yield shape.bid_offer[0], [number, *texts[1:]]
        for child in shape.bid_offer[1:]:
            yield child, day.texts(child, "SPOT", day.key(f"bmu:{unit}", period, f"BOS{pair}"), ft)
    start = period_start_utc(day.settlement_date, period)
    for n in range(1, pairs + 1):
        texts = day.texts(
            shape.acceptance[0], "ACCEPTANCE", day.key(f"bmu:{unit}", period, f"BOA{n}"), ft
        )
        issued = start - timedelta(minutes=int(texts[0]) % 90)
        texts[1] = f"{issued:%Y%m%d%H%M%S}"
        yield shape.acceptance[0], texts
        for child in shape.acceptance[1:]:
            yield child, day.texts(child, "SPOT", day.key(f"bmu:{unit}", period, f"BO5{n}"), ft)


# --- Sample values, as a parser reading the file sees them ----------------------------------


def sample_party_period_values(
    settlement_date: date, party: str, period: int, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """A party's PPC values in a period: every decimal field written (not blank), by name."""
    day = _Day(seed, settlement_date, revision)
    return _decimals(_record(_S0142, "PPC"), _ppc_texts(day, bsc_party_id(party), period))


def sample_system_period_values(
    settlement_date: date, period: int, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """The system's values in a period: the SSD's decimal fields written, plus the S0142
    SPI's identified decimal fields that the SSD does not carry (the shared ones are equal)."""
    day = _Day(seed, settlement_date, revision)
    ssd = _ssd_texts(day, period)
    values = _decimals(_record(_S0142, "SSD"), ssd)
    spi = _decimals(_record(_S0142, "SPI"), _spi_texts(day, period, ssd))
    for name, value in spi.items():
        if name not in values and not name.startswith("unidentified"):
            values[name] = value
    return values


def sample_bm_unit_period_values(
    settlement_date: date, unit: str, period: int, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """A BM Unit's BP7 (S0142) or BPD (S0141) values in a period: the decimal fields written."""
    day = _Day(seed, settlement_date, revision)
    return _decimals(_record(_S0142, "BP7"), _bm_unit_texts(day, bm_unit_id(unit), period))


def sample_daily_values(
    settlement_date: date, party: str, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """A party's APC (daily) values: the decimal fields written, by name."""
    day = _Day(seed, settlement_date, revision)
    party = bsc_party_id(party)
    periods = range(1, periods_in_day(settlement_date) + 1)
    ppcs = [_ppc_texts(day, party, p) for p in periods]
    return _decimals(_record(_S0142, "APC"), _apc_texts(day, party, ppcs))


# --- Identifiers --------------------------------------------------------------------------------


def sample_party_ids(n: int) -> list[str]:
    """``n`` valid BSC Party Ids: ``PTY00001``, ``PTY00002``, ..."""
    if not 0 <= n <= 99_999:
        raise ValueError("between 0 and 99,999 sample parties")
    return [f"PTY{i:05d}" for i in range(1, n + 1)]


def sample_bm_unit_ids(party: str, n: int) -> list[str]:
    """``n`` valid BM Unit Ids of a party: ``T_PTY00001-1``, ``T_PTY00001-2``, ..."""
    return [bm_unit_id(f"T_{party}-{i}") for i in range(1, n + 1)]


MARKET_PARTIES = 479
# BM Units by prefix in a real R3 file (7,652 units), scaled to 7,650.
_MARKET_UNITS = (
    ("2__", 2944),
    ("C__", 2551),
    ("I_", 1190),
    ("T_", 521),
    ("V__", 237),
    ("E_", 191),
    ("M_", 11),
    ("T__", 3),
    ("E__", 2),
)
_BASE36 = string.digits + string.ascii_uppercase


def _market_party_id(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:  # a short name, like NGC or BRITGAS
        return "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 7)))
    if roll < 0.40:  # all digits, like 20222033
        return "".join(rng.choices(string.digits, k=8))
    # two digits and six letters, like 11XEZPAG
    return "".join(rng.choices(string.digits, k=2) + rng.choices(string.ascii_uppercase, k=6))


def _market_unit_id(prefix: str, code: str, n: int, letter: str) -> str:
    if prefix in _SHAPED:
        return f"{prefix}{letter}{code}{n:03d}"  # 2__FBPGM002: group letter, 4 chars, 3 digits
    if prefix == "E__":
        return f"E__{code}{letter}{n:02d}"
    return f"{prefix}{code}{letter}-{n}"  # T_DRAXX-1 style


def market_size_ids(seed: int = 0) -> tuple[list[str], dict[str, list[str]]]:
    """Parties and BM Units the size of the real market: 479 BSC Parties (the system operator
    ``NGC``, 8-character alphanumerics, all-digit ids, short names) with 15 or 16 BM Units each,
    7,650 in all, prefixes in the proportions of a real S0142 (``2__``, ``C__``, ``I_``, ``T_``,
    ``V__``, ``E_``, ``M_``, ``T__``, ``E__``). An S0142 of them has about 1.2 million records.
    """
    rng = random.Random(f"market-size-ids|{seed}")
    parties = [SYSTEM_OPERATOR]
    while len(parties) < MARKET_PARTIES:
        party = bsc_party_id(_market_party_id(rng))
        if party not in parties:
            parties.append(party)
    prefixes = [prefix for prefix, count in _MARKET_UNITS for _ in range(count)]
    rng.shuffle(prefixes)
    each, extra = divmod(len(prefixes), len(parties))
    units: dict[str, list[str]] = {}
    start = 0
    for i, party in enumerate(parties):
        count = each + (i < extra)
        code = "".join(_BASE36[i // 36**k % 36] for k in (3, 2, 1, 0))
        units[party] = [
            bm_unit_id(_market_unit_id(prefix, code, n, rng.choice(_GSP_LETTERS)))
            for n, prefix in enumerate(prefixes[start : start + count], 1)
        ]
        start += count
    return parties, units


# --- Writing ------------------------------------------------------------------------------------


class _Output(Protocol):
    """A binary stream to write to: a file, ``io.BytesIO``, a ``gzip.GzipFile``."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class _Sink:
    """Streams records: checks each record's field count against the layout, keeps the count
    and the checksum, writes in blocks."""

    def __init__(self, out: _Output, line_end: bytes, file_type: str) -> None:
        layout, _ = layout_for(file_type)
        self._widths = {r: len(rec.fields) for r, rec in layout.records.items() if r != "ZZZ"}
        self._out = out
        self._line_end = line_end
        self._acc = ChecksumAccumulator()
        self._chunk: list[bytes] = []
        self.count = 0

    def emit(self, record_type: str, fields: Sequence[str]) -> None:
        width = self._widths.get(record_type)
        if width is not None and width != len(fields):
            raise AssertionError(f"{record_type} has {len(fields)} fields, the layout {width}")
        data = f"{record_type}|{'|'.join(fields)}|".encode("ascii")
        self._acc.add(data)
        self._chunk.append(data)
        self.count += 1
        if len(self._chunk) >= _FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        self._chunk.append(b"")
        self._out.write(self._line_end.join(self._chunk))
        self._chunk.clear()

    def close(self) -> int:
        """Write the ZZZ trailer; the records written, AAA and ZZZ included."""
        self._chunk.append(f"ZZZ|{self.count + 1}|{self._acc.value}|".encode("ascii"))
        self.count += 1
        self._flush()
        return self.count


@dataclass(frozen=True, slots=True)
class _Report:
    shape: _Shape
    day: _Day
    periods: range
    parties: list[str]
    units: dict[str, list[str]]
    header: list[str]  # SRH/BPH fields 1-7


def _header(
    settlement_date: date, run_type: RunType, run_number: int, ssr_run_number: int | None
) -> list[str]:
    day = f"{settlement_date:%Y%m%d}"
    ssr = ssr_run_number or _ssr_run_number(settlement_date, run_type, run_number)
    run = str(run_number)
    return [day, run_type.value, run, run, day, run, str(ssr)]


def _system_block(sink: _Sink, report: _Report, systems: Sequence[_System]) -> None:
    """S0142: per period SPI, MD1, DB1, TRA and a BPI per BM Unit of every party."""
    for period, system in zip(report.periods, systems, strict=True):
        sink.emit("SPI", system.spi)
        for texts in system.market_index:
            sink.emit("MD1", texts)
        for texts in system.adjustments:
            sink.emit("DB1", texts)
        for texts in system.trading_units:
            sink.emit("TRA", texts)
        for party in report.parties:
            for unit in report.units.get(party, ()):
                bp7 = _bm_unit_texts(report.day, unit, period)
                sink.emit("BPI", _bpi_texts(unit, bp7))


def _accounts(
    day: _Day, party: str, units: Sequence[str], period: int
) -> Iterator[tuple[str, _Texts]]:
    """APD for production and consumption, each with an APB per unit reallocating into it."""
    for flag in ("P", "C"):
        texts = day.texts("APD", "APD", day.key(f"party:{party}", period, f"APD {flag}"))
        yield "APD", [flag, *texts[1:]]
        for unit in units:
            if _has_mvr(day.seed, unit) and _mvr_flag(unit) == flag:
                mvr = _mvr_texts(day, party, unit, period)
                yield "APB", [unit, *mvr[2:]]


def _period_records(
    report: _Report, party: str, period: int, system: _System, ppc: _Texts
) -> Iterator[tuple[str, _Texts]]:
    shape, day = report.shape, report.day
    units = report.units.get(party, [])
    yield shape.period_header, [str(period)]
    ssd = [("SSD", system.ssd), *(("MD2", md) for md in system.market_index)]
    if shape.system_block:
        yield from [*ssd, ("PPC", ppc)]
    else:
        yield from [("PPC", ppc), *ssd]
    for texts in system.adjustments:
        yield "DB2", texts
    yield from _accounts(day, party, units, period)
    for unit in units:
        yield shape.bm_unit, _bm_unit_texts(day, unit, period)
        yield from _children(day, shape, party, unit, period)


def _party_block(sink: _Sink, report: _Report, party: str, systems: Sequence[_System]) -> None:
    day = report.day
    ppcs = [_ppc_texts(day, party, period) for period in report.periods]
    if report.shape.system_block:
        sink.emit("BPH", [*report.header, party])
    sink.emit("APC", _apc_texts(day, party, ppcs))
    for period, system, ppc in zip(report.periods, systems, ppcs, strict=True):
        for record_type, texts in _period_records(report, party, period, system, ppc):
            sink.emit(record_type, texts)


def _aaa(file_type: str, creation_time: datetime, sequence: int | None) -> list[str]:
    created = creation_time.astimezone(UTC)
    if sequence is None:  # a plausible file sequence number (41697 in a real file)
        sequence = 10_000 + int(created.timestamp()) // 600 % 90_000
    stamp = f"{created:%Y%m%d%H%M%S}"
    return [file_type, "D", stamp, "SA", "UKDC", "PB", "PORTAL", str(sequence), "OPER"]


def _checked_ids(
    flow: str,
    parties: Sequence[str],
    bm_units: Mapping[str, Sequence[str]] | None,
    creation_time: datetime,
) -> tuple[list[str], dict[str, list[str]]]:
    """The arguments of :func:`write_settlement_report`, checked: its party and BM Unit ids."""
    if flow not in FILE_TYPES:
        raise ValueError(f"sample reports are S0141 or S0142, not {flow!r}")
    if flow == "S0141" and len(parties) != 1:
        raise ValueError("an S0141 reports exactly one party")
    if creation_time.tzinfo is None:
        raise ValueError("creation_time must be timezone-aware")
    party_ids = [bsc_party_id(p) for p in parties]
    units = {bsc_party_id(p): [bm_unit_id(u) for u in us] for p, us in (bm_units or {}).items()}
    return party_ids, units


def write_settlement_report(
    out: _Output,
    *,
    flow: Flow,
    settlement_date: date,
    run_type: RunType,
    run_number: int,
    parties: Sequence[str],
    bm_units: Mapping[str, Sequence[str]] | None = None,
    creation_time: datetime,
    seed: int = 0,
    revision: int = 0,
    line_end: bytes = b"\n",
    bom: bool = False,
    gzip: bool = False,
    sequence: int | None = None,
    ssr_run_number: int | None = None,
) -> int:
    """Write a synthetic settlement report (version 013) to ``out``; returns the records written.

    S0141 reports exactly one party (``parties``) with its BM Units from ``bm_units``; S0142
    reports every party in ``parties`` with the BM Units in ``bm_units``. ``run_number`` is the
    SAA run number written in SRH/BPH (see :func:`default_run_number`). Every period of the day
    is present (46, 48 or 50). ``gzip`` compresses the output as the portal delivers it
    (reproducibly: no time stamp or name in the gzip header). Written streaming: memory does
    not grow with the file.
    """
    party_ids, units = _checked_ids(flow, parties, bm_units, creation_time)
    run_type = RunType(run_type)
    shape = _SHAPES[flow]
    day = _Day(seed, settlement_date, revision)
    header = _header(settlement_date, run_type, run_number, ssr_run_number)
    periods = range(1, periods_in_day(settlement_date) + 1)
    report = _Report(shape, day, periods, party_ids, units, header)
    aaa = _aaa(shape.file_type, creation_time, sequence)
    if not gzip:
        return _write(out, report, aaa, line_end, bom)
    with gzip_module.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as z:
        return _write(z, report, aaa, line_end, bom)


def _write(out: _Output, report: _Report, aaa: list[str], line_end: bytes, bom: bool) -> int:
    if bom:
        out.write(_BOM)
    sink = _Sink(out, line_end, report.shape.file_type)
    sink.emit("AAA", aaa)
    srh_party = SYSTEM_OPERATOR if report.shape.system_block else report.parties[0]
    sink.emit("SRH", [*report.header, srh_party])
    systems = [_system(report.day, period) for period in report.periods]
    if report.shape.system_block:
        _system_block(sink, report, systems)
    for party in report.parties:
        _party_block(sink, report, party, systems)
    return sink.close()


def portal_file_name(
    flow: Flow, settlement_date: date, run_type: RunType | str, creation_time: datetime
) -> str:
    """The portal's name of a report: ``S0142_20260217_R3_20260922224432.gz``."""
    created = creation_time.astimezone(UTC)
    return f"{flow}_{settlement_date:%Y%m%d}_{RunType(run_type).value}_{created:%Y%m%d%H%M%S}.gz"


def write_portal_file(
    directory: str | Path,
    *,
    flow: Flow = "S0142",
    settlement_date: date,
    run_type: RunType,
    run_number: int | None = None,
    parties: Sequence[str],
    bm_units: Mapping[str, Sequence[str]] | None = None,
    creation_time: datetime,
    seed: int = 0,
    revision: int = 0,
    bom: bool = False,
) -> Path:
    """Write a report gzipped into ``directory`` under the portal's name; returns its path.

    ``run_number`` defaults to :func:`default_run_number` of the run type.
    """
    path = Path(directory) / portal_file_name(flow, settlement_date, run_type, creation_time)
    with path.open("wb") as out:
        write_settlement_report(
            out,
            flow=flow,
            settlement_date=settlement_date,
            run_type=run_type,
            run_number=default_run_number(run_type) if run_number is None else run_number,
            parties=parties,
            bm_units=bm_units,
            creation_time=creation_time,
            seed=seed,
            revision=revision,
            bom=bom,
            gzip=True,
        )
    return path
