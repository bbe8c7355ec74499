"""Synthetic but well-formed SAA-I014 settlement reports for the demo, the tests and benchmarks.

Values are deterministic in (seed, settlement date, subject, period) and move on every revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Literal

from ledger.domain.identifiers import bm_unit_id, bsc_party_id
from ledger.domain.runs import RunType
from ledger.domain.settlement_time import periods_in_day
from ledger.flows.idd import ChecksumAccumulator
from ledger.flows.saa_i014 import PPC_NAMES, SSD_NAMES

__all__ = [
    "FILE_TYPES",
    "sample_bm_unit_ids",
    "sample_party_ids",
    "sample_party_period_values",
    "sample_system_period_values",
    "write_settlement_report",
]

FILE_TYPES = {"S0141": "S0141008", "S0142": "S0142013"}
SYSTEM_OPERATOR = "NGC"

# (scale, low, high): a value is a whole number of 10**-scale units between low and high.
_Spec = tuple[int, int, int]
_PPC: tuple[_Spec, ...] = (
    (2, 0, 80_000),  # BSSC limited cost allocation: up to 800.00, a charge
    (2, -25_000_000, 25_000_000),  # BM Unit cashflow: +-250k
    (2, -6_000_000, 6_000_000),  # energy imbalance cashflow: +-60k
    (2, -50_000, 50_000),  # information imbalance cashflow
    (2, 0, 200_000),  # non-delivery charge
    (2, -500_000, 500_000),  # residual cashflow reallocation charge
)
_SSD: tuple[_Spec, ...] = (
    (2, 500_000, 4_000_000),  # period BSSC limited costs
    (2, -200_000_000, 200_000_000),  # SO BM cashflow
    (5, 0, 30_000_000),  # information imbalance price 1
    (5, 0, 30_000_000),  # information imbalance price 2
    (5, -1_000_000, 15_000_000),  # system price (single price since P305: SBP = SSP)
    (3, -900_000, 900_000),  # net imbalance volume (an unconfirmed later field)
)
_SPI: tuple[_Spec, ...] = ((3, 15_000_000, 45_000_000), (3, -900_000, 900_000))
_BP7: tuple[_Spec, ...] = ((3, -500_000, 500_000), (2, -5_000_000, 5_000_000), (2, 0, 50_000))
_BPI: tuple[_Spec, ...] = ((3, -20_000, 20_000), (2, -100_000, 100_000))
_DAILY_SO_BM: tuple[_Spec, ...] = ((2, -50_000_000, 50_000_000),)
_PRICE_CODES = ("A", "B", "N", "P")
_MASK64 = (1 << 64) - 1


def sample_party_ids(n: int) -> list[str]:
    """``n`` valid BSC Party Ids: ``PTY00001``, ``PTY00002``, ..."""
    if not 0 <= n <= 99_999:
        raise ValueError("between 0 and 99,999 sample parties")
    return [f"PTY{i:05d}" for i in range(1, n + 1)]


def sample_bm_unit_ids(party: str, n: int) -> list[str]:
    """``n`` valid BM Unit Ids of a party: ``T_PTY00001-1``, ``T_PTY00001-2``, ..."""
    return [bm_unit_id(f"T_{party}-{i}") for i in range(1, n + 1)]


def _hash(seed: int, settlement_date: date, subject: str, period: int) -> int:
    key = f"{seed}|{settlement_date.isoformat()}|{subject}|{period}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=64).digest(), "little")


def _draw(h: int, specs: tuple[_Spec, ...], revision: int, offset: int = 0) -> list[int]:
    """Scaled integer values, 64 hash bits each; each revision moves every value by a step."""
    out = []
    for i, (_, low, high) in enumerate(specs, offset):
        chunk = (h >> (64 * i)) & _MASK64
        base = low + chunk % (high - low + 1)
        step = 1 + (chunk >> 40) % max(1, (high - low) // 400)
        out.append(base - revision * step if (chunk >> 39) & 1 else base + revision * step)
    return out


def _fmt(value: int, scale: int) -> str:
    """IDD decimal text of value * 10**-scale (no trailing zeros, no exponent)."""
    if value < 0:
        return "-" + _fmt(-value, scale)
    whole, frac = divmod(value, 10**scale)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:0{scale}d}".rstrip("0")


def _join(values: list[int], specs: tuple[_Spec, ...]) -> str:
    return "|".join([_fmt(v, spec[0]) for v, spec in zip(values, specs, strict=True)])


def _ppc(seed: int, sd: date, party: str, period: int, revision: int) -> list[int]:
    return _draw(_hash(seed, sd, f"party:{party}", period), _PPC, revision)


def _ssd(seed: int, sd: date, period: int, revision: int) -> tuple[list[int], str, list[int]]:
    """SSD values (with SBP = SSP), price derivation code, SPI values, for one period."""
    h = _hash(seed, sd, "system", period)
    bssc, so_bm, iip1, iip2, price, niv = _draw(h, _SSD, revision)
    spi = _draw(h, _SPI, revision, offset=len(_SSD))
    code = _PRICE_CODES[(h >> 500) % len(_PRICE_CODES)]
    return [bssc, so_bm, iip1, iip2, price, price, niv], code, spi


def _decimal(value: int, scale: int) -> Decimal:
    return Decimal(value).scaleb(-scale)


def sample_party_period_values(
    settlement_date: date, party: str, period: int, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """The PPC values the writer puts in a party's settlement period."""
    values = _ppc(seed, settlement_date, party, period, revision)
    return {n: _decimal(v, s[0]) for n, v, s in zip(PPC_NAMES, values, _PPC, strict=True)}


def sample_system_period_values(
    settlement_date: date, period: int, *, seed: int = 0, revision: int = 0
) -> dict[str, Decimal]:
    """The SSD values the writer puts in a settlement period (system sell price = buy price)."""
    values, _, _ = _ssd(seed, settlement_date, period, revision)
    specs = (*_SSD[:5], _SSD[4])
    return {n: _decimal(v, s[0]) for n, v, s in zip(SSD_NAMES, values[:6], specs, strict=True)}


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
    out: IO[bytes],
    *,
    flow: Literal["S0141", "S0142"],
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
) -> int:
    """Write a synthetic settlement report to ``out``; returns the records written.

    S0141 reports one party (exactly one in ``parties``; ``bm_units`` is not used); S0142
    reports every party in ``parties`` with the BM Units in ``bm_units``. Every period of the
    day is present (46, 48 or 50). Written streaming: memory does not grow with the file.
    """
    party_ids, units = _checked_ids(flow, parties, bm_units, creation_time)
    run_type = RunType(run_type)
    periods = range(1, periods_in_day(settlement_date) + 1)
    acc = ChecksumAccumulator()
    chunk: list[bytes] = []
    count = 0
    if bom:
        out.write(b"\xef\xbb\xbf")

    def emit(record: str) -> None:
        nonlocal count
        data = record.encode("ascii")
        acc.add(data)
        chunk.append(data)
        count += 1
        if len(chunk) >= 4096:
            chunk.append(b"")
            out.write(line_end.join(chunk))
            chunk.clear()

    day = f"{settlement_date:%Y%m%d}"
    created = f"{creation_time.astimezone(UTC):%Y%m%d%H%M%S}"
    run = f"{run_type.value}|{run_number}|{run_number}|{day}|{run_number}|{run_number}"
    emit(f"AAA|{FILE_TYPES[flow]}|D|{created}|SA|UKDC|PB|PORTAL|{run_number}|OPER|")
    emit(f"SRH|{day}|{run}|{party_ids[0] if flow == 'S0141' else SYSTEM_OPERATOR}|")

    # System data is the same under every party: build it once per period.
    ssd_records: list[str] = []
    ssd_specs = (*_SSD[:5], _SSD[4], _SSD[5])
    for period in periods:
        values, code, spi = _ssd(seed, settlement_date, period, revision)
        texts = [_fmt(v, s[0]) for v, s in zip(values, ssd_specs, strict=True)]
        ssd_records.append(f"SSD|{'|'.join(texts[:6])}|{code}|{texts[6]}|")
        if flow == "S0142":
            emit(f"SPI|{period}|{_join(spi, _SPI)}|")

    for party in party_ids:
        ppcs = [_ppc(seed, settlement_date, party, p, revision) for p in periods]
        totals = [sum(column) for column in zip(*ppcs, strict=True)]
        daily = _draw(_hash(seed, settlement_date, f"party:{party}", 0), _DAILY_SO_BM, revision)
        if flow == "S0142":
            emit(f"BPH|{day}|{run}|{party}|")
        emit(f"APC|{_join(totals, _PPC)}|{_join(daily, _DAILY_SO_BM)}|")
        party_units = units.get(party, []) if flow == "S0142" else []
        for period, ppc, ssd in zip(periods, ppcs, ssd_records, strict=True):
            emit(f"{'SP7' if flow == 'S0142' else 'SPH'}|{period}|")
            emit(f"PPC|{_join(ppc, _PPC)}|")
            emit(ssd)
            for unit in party_units:
                h = _hash(seed, settlement_date, f"bmu:{unit}", period)
                emit(f"BP7|{unit}|{_join(_draw(h, _BP7, revision), _BP7)}|")
                bpi = _draw(h, _BPI, revision, offset=len(_BP7))
                emit(f"BPI|{_join(bpi, _BPI)}|")

    trailer = f"ZZZ|{count + 1}|{acc.value}|".encode("ascii")
    chunk.append(trailer)
    chunk.append(b"")
    out.write(line_end.join(chunk))
    return count + 1
