"""Meter readings: the register readings of one meter of one metering system, as data
collectors delivered them (D0010), within a tenant.

One aggregate per tenant, MPAN and meter serial number (:func:`meter_readings_id`, so the same
meter always lands on the same aggregate). Each received file's readings of that meter are one
event, naming the file (its SHA-256) and its flow. Readings are never edited: a later file
that reads the same register at the same time with another value is recorded beside the
first, and both stay, each with its source. A file is recorded once per meter.

The pipeline turns a file's readings into events with :func:`readings_by_meter` (the file's
readings per MPAN and meter, in file order) and :func:`record_readings` (the meter's aggregate
with the file's readings pending, to save; None when the aggregate already holds that file).
Readings are taken as anything shaped like :class:`DeliveredReading`, which the formats'
``MeterReading`` is (this layer cannot import the formats).

Events carry plain JSON (instants as ISO text, readings as exact decimal text), so nothing in
them depends on the event store's transcodings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.aggregates import LEDGER_NAMESPACE
from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import mpan_core
from ledger.domain.plain_text import plain_text

__all__ = [
    "DeliveredReading",
    "MeterReadings",
    "RecordedReading",
    "ReadingsRefused",
    "meter_readings_id",
    "readings_by_meter",
    "record_readings",
]


class ReadingsRefused(LedgerError, ValueError):
    """Readings the meter's aggregate cannot record (none, another meter's, no time zone)."""


class DeliveredReading(Protocol):
    """A register reading as a format delivers it (``ledger.flows.canonical.MeterReading``)."""

    @property
    def mpan(self) -> str: ...
    @property
    def meter(self) -> str: ...
    @property
    def register(self) -> str: ...
    @property
    def read_at(self) -> datetime: ...
    @property
    def reading(self) -> Decimal: ...
    @property
    def reading_type(self) -> str: ...
    @property
    def attributes(self) -> dict[str, str]: ...
    @property
    def record_position(self) -> int: ...


def meter_readings_id(tenant: str, mpan: str, meter: str) -> UUID:
    """The id of the aggregate holding one meter's readings (an MPAN and a meter serial
    number), within a tenant."""
    return uuid5(LEDGER_NAMESPACE, f"meter-readings/{tenant}/{mpan}/{meter}")


@dataclass(frozen=True)
class RecordedReading:
    """One reading as the aggregate holds it: what the file said, and which file said it."""

    register: str
    read_at: datetime
    reading: Decimal
    reading_type: str
    attributes: dict[str, str]
    record_position: int  # its line in the source file
    source_sha256: str
    flow: str
    recorded_at: datetime


def _event_data(reading: DeliveredReading) -> dict[str, Any]:
    """A reading as an event stores it: plain JSON, exact text."""
    if reading.read_at.tzinfo is None:
        raise ReadingsRefused(
            f"the reading of register {reading.register} of meter {reading.meter} has no time "
            "zone: readings are recorded as instants"
        )
    return {
        "register": reading.register,
        "read_at": reading.read_at.isoformat(),
        "reading": str(reading.reading),
        "reading_type": reading.reading_type,
        "attributes": dict(reading.attributes),
        "record_position": reading.record_position,
    }


class MeterReadings(Aggregate):
    """The readings of one meter of one metering system within a tenant, file by file."""

    def __init__(self, tenant: str, mpan: str, meter: str) -> None:
        self.tenant = tenant
        self.mpan = mpan
        self.meter = meter
        self.readings: list[RecordedReading] = []
        self.sources: list[str] = []  # the SHA-256 of each file recorded, in order

    @staticmethod
    def create_id(tenant: str, mpan: str, meter: str) -> UUID:
        return meter_readings_id(tenant, mpan, meter)

    @dataclass(frozen=True)
    class ReadingsRecordedFields(Aggregate.Event):
        """The readings of this meter that one file delivered, with the file and its flow."""

        tenant: str
        mpan: str
        meter: str
        flow: str
        source_sha256: str
        readings: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.sources.append(self.source_sha256)
            aggregate.readings.extend(
                RecordedReading(
                    register=data["register"],
                    read_at=datetime.fromisoformat(data["read_at"]),
                    reading=Decimal(data["reading"]),
                    reading_type=data["reading_type"],
                    attributes=dict(data["attributes"]),
                    record_position=int(data["record_position"]),
                    source_sha256=self.source_sha256,
                    flow=self.flow,
                    recorded_at=self.timestamp,
                )
                for data in self.readings
            )

    @dataclass(frozen=True)
    class FirstReadingsRecorded(ReadingsRecordedFields, Aggregate.Created):
        """The first readings the ledger learned for this meter; opens the aggregate."""

    @dataclass(frozen=True)
    class ReadingsRecorded(ReadingsRecordedFields):
        """A later file delivered readings of this meter."""

    @classmethod
    def first(
        cls,
        tenant: str,
        mpan: str,
        meter: str,
        *,
        flow: str,
        sha256: str,
        readings: Sequence[DeliveredReading],
    ) -> MeterReadings:
        """The meter's first readings: opens its history."""
        data = _checked(mpan, meter, readings)
        return cls._create(
            cls.FirstReadingsRecorded,
            tenant=tenant,
            mpan=mpan,
            meter=meter,
            flow=flow,
            source_sha256=sha256,
            readings=data,
        )

    def record(self, *, flow: str, sha256: str, readings: Sequence[DeliveredReading]) -> None:
        """A later file's readings of this meter (a file is recorded once per meter)."""
        if sha256 in self.sources:
            raise ReadingsRefused(
                f"meter {self.meter} of MPAN {self.mpan} already holds the readings of file "
                f"{sha256}"
            )
        self.trigger_event(
            self.ReadingsRecorded,
            tenant=self.tenant,
            mpan=self.mpan,
            meter=self.meter,
            flow=flow,
            source_sha256=sha256,
            readings=_checked(self.mpan, self.meter, readings),
        )


def _checked(mpan: str, meter: str, readings: Sequence[DeliveredReading]) -> list[dict[str, Any]]:
    mpan_core(mpan)
    plain_text(meter, "a meter serial number")
    if not readings:
        raise ReadingsRefused(f"no readings to record for meter {meter} of MPAN {mpan}")
    other = next((r for r in readings if (r.mpan, r.meter) != (mpan, meter)), None)
    if other is not None:
        raise ReadingsRefused(
            f"a reading of meter {other.meter} of MPAN {other.mpan} cannot be recorded as "
            f"meter {meter} of MPAN {mpan}'s"
        )
    return [_event_data(r) for r in readings]


def readings_by_meter(
    readings: Iterable[DeliveredReading],
) -> Mapping[tuple[str, str], list[DeliveredReading]]:
    """A file's readings per (MPAN, meter serial number), each meter's in file order, meters
    in the order the file first names them."""
    grouped: dict[tuple[str, str], list[DeliveredReading]] = {}
    for reading in readings:
        grouped.setdefault((reading.mpan, reading.meter), []).append(reading)
    return grouped


def record_readings(
    tenant: str,
    sha256: str,
    flow: str,
    readings: Sequence[DeliveredReading],
    existing: MeterReadings | None,
) -> MeterReadings | None:
    """One meter's readings from one file, as a pending event on its aggregate: ``existing``
    (the meter's aggregate, None when the ledger has no readings of it yet) or a new one. The
    caller saves the result; None when ``existing`` already holds this file's readings (the
    same file processed again adds nothing). Every reading must be of one MPAN and meter."""
    if not readings:
        raise ReadingsRefused("no readings to record")
    mpan, meter = readings[0].mpan, readings[0].meter
    if existing is None:
        return MeterReadings.first(tenant, mpan, meter, flow=flow, sha256=sha256, readings=readings)
    if sha256 in existing.sources:
        return None
    existing.record(flow=flow, sha256=sha256, readings=readings)
    return existing
