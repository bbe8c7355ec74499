"""Synthetic DTC files (D0036, D0010 and one flow the ledger does not interpret) shaped like
real ones, for the demo and the tests.

The layouts are the ones :mod:`ledger.flows.dtc` reads and cites: a ``ZHV`` header, the body,
and a ``ZPT`` trailer whose record count excludes ZHV and ZPT, whose checksum is blank (as in
every public sample) and whose group count is the number of top-level groups (``101`` in a
D0036, ``026`` in a D0010). Times are written as UK clock time. Values are synthetic and
deterministic (:func:`d0036_value`), so a test can say exactly what a file holds.

A D0036 (one MPAN, import and export)::

    ZHV|DTC0000001|D0036001|C|SSIL|X|GMTR|20260605161900||||OPER|
    101|1014568234275|AI|GMTR|
    102|20260604|
    103|A|9.8|            (one per period, 48 on most days)
    101|1014568234275|AE|GMTR|
    102|20260604|
    103|E|0.4|
    ZPT|DTC0000001|100||2|20260605161900|
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby

from ledger.domain.identifiers import mpan_check_digit
from ledger.domain.settlement_time import LONDON, periods_in_day

__all__ = [
    "SampleReading",
    "d0010_file",
    "d0036_file",
    "d0036_value",
    "dtc_file",
    "dtc_time",
    "other_flow_file",
    "sample_mpan",
]


def sample_mpan(serial: int, distributor: int = 10) -> str:
    """A valid MPAN core (its check digit computed) for a distributor and a serial number."""
    first_twelve = f"{distributor:02d}{serial:010d}"
    return first_twelve + str(mpan_check_digit(first_twelve))


def dtc_time(instant: datetime) -> str:
    """An instant as a DTC writes it: ``YYYYMMDDHHMMSS`` in UK clock time."""
    return instant.astimezone(LONDON).strftime("%Y%m%d%H%M%S")


def dtc_file(
    *,
    file_type: str,
    body: Sequence[str],
    groups: int,
    creation_time: datetime,
    file_id: str = "DTC0000001",
    sender: tuple[str, str] = ("C", "SSIL"),
    recipient: tuple[str, str] = ("X", "GMTR"),
    test_flag: str = "OPER",
    line_end: str = "\n",
) -> bytes:
    """A DTC file: ZHV, the body records (each ending with ``|``), ZPT with its counts."""
    created = dtc_time(creation_time)
    header = (
        f"ZHV|{file_id}|{file_type}|{sender[0]}|{sender[1]}|{recipient[0]}|{recipient[1]}|"
        f"{created}||||{test_flag}|"
    )
    trailer = f"ZPT|{file_id}|{len(body)}||{groups}|{created}|"
    return line_end.join([header, *body, trailer]).encode("ascii") + line_end.encode()


def d0036_value(mpan: str, quantity: str, settlement_date: date, period: int) -> Decimal:
    """The synthetic kWh (or kVArh) a sample D0036 gives a period, one decimal place."""
    seed = int(mpan[-5:]) + settlement_date.toordinal() * 7 + period * 13 + len(quantity) * 3
    whole = seed % 37 if quantity in ("AI", "RI") else seed % 5
    return Decimal(f"{whole}.{seed % 10}")


def d0036_file(
    *,
    mpans: Sequence[str],
    settlement_dates: Sequence[date],
    creation_time: datetime,
    quantities: Sequence[str] = ("AI",),
    estimated: Collection[int] = (),
    periods: int | None = None,
    supplier: str = "GMTR",
    version: str = "001",
    file_id: str = "DTC0000001",
    line_end: str = "\n",
) -> bytes:
    """A D0036: per MPAN and measurement quantity a 101, per settlement date a 102, per period
    a 103 (``E`` for the periods in ``estimated``, else ``A``). ``periods`` overrides how many
    103 records each date gets (by default the day's own: 46, 48 or 50)."""
    body: list[str] = []
    for mpan in mpans:
        for quantity in quantities:
            body.append(f"101|{mpan}|{quantity}|{supplier}|")
            for settlement_date in settlement_dates:
                body.append(f"102|{settlement_date:%Y%m%d}|")
                count = periods_in_day(settlement_date) if periods is None else periods
                for period in range(1, count + 1):
                    indicator = "E" if period in estimated else "A"
                    value = d0036_value(mpan, quantity, settlement_date, period)
                    body.append(f"103|{indicator}|{value}|")
    return dtc_file(
        file_type=f"D0036{version}",
        body=body,
        groups=len(mpans) * len(quantities),
        creation_time=creation_time,
        file_id=file_id,
        line_end=line_end,
    )


@dataclass(frozen=True)
class SampleReading:
    """One register reading for a sample D0010."""

    mpan: str
    meter: str
    register: str
    read_at: datetime
    reading: Decimal
    reading_type: str = "C"  # customer own read
    validation_status: str = "V"
    flag: str = "T"
    method: str = "N"


def d0010_file(
    readings: Sequence[SampleReading],
    *,
    creation_time: datetime,
    version: str = "002",
    file_id: str = "DTC0000002",
    line_end: str = "\n",
) -> bytes:
    """A D0010 from a data collector: readings grouped by MPAN (026) then meter (028), in the
    order given (consecutive readings of one MPAN and meter share their records)."""
    body: list[str] = []
    groups = 0
    for mpan, of_mpan in groupby(readings, key=lambda r: r.mpan):
        mpan_readings = list(of_mpan)
        body.append(f"026|{mpan}|{mpan_readings[0].validation_status}|")
        groups += 1
        for meter, of_meter in groupby(mpan_readings, key=lambda r: r.meter):
            meter_readings = list(of_meter)
            body.append(f"028|{meter}|{meter_readings[0].reading_type}|")
            body.extend(
                f"030|{r.register}|{dtc_time(r.read_at)}|{r.reading}|||{r.flag}|{r.method}|"
                for r in meter_readings
            )
    return dtc_file(
        file_type=f"D0010{version}",
        body=body,
        groups=groups,
        creation_time=creation_time,
        file_id=file_id,
        sender=("D", "UDMS"),
        line_end=line_end,
    )


def other_flow_file(
    *,
    mpans: Sequence[str],
    creation_time: datetime,
    flow: str = "D0012",
    version: str = "001",
    file_id: str = "DTC0000003",
) -> bytes:
    """A flow the ledger keeps without interpreting: by default a D0012 with one ``039`` group
    per MPAN (the shape of a public D0012 sample, from the TypeScript D-flow builder that
    :mod:`ledger.flows.dtc` cites)."""
    day = creation_time.astimezone(LONDON).date()
    body = [f"039|{mpan}|{day:%Y%m%d}|D||" for mpan in mpans]
    return dtc_file(
        file_type=f"{flow}{version}",
        body=body,
        groups=len(mpans),
        creation_time=creation_time,
        file_id=file_id,
        sender=("D", "UDMS"),
    )
