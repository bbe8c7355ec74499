"""Meter readings stored as events and listed from their view, on SQLite and PostgreSQL: a
D0010's readings, recorded per meter, listed per MPAN, never edited, behind tenant walls, and
rebuilt from the log to the same rows."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal

from eventsourcing.application import AggregateNotFoundError

from ledger.demo.dtc_samples import SampleReading, d0010_file, sample_mpan
from ledger.domain.readings import (
    MeterReadings,
    meter_readings_id,
    readings_by_meter,
    record_readings,
)
from ledger.flows.canonical import MeterReading
from ledger.flows.dtc import read_dtc
from ledger.service.runtime import LedgerRuntime
from projections.meter_readings import ReadingRow, meter_readings

MPAN = sample_mpan(1)
OTHER_MPAN = sample_mpan(2)
CREATED = datetime(2026, 6, 2, 9, tzinfo=UTC)
MORNING = datetime(2026, 6, 1, 7, 30, tzinfo=UTC)


def existing(runtime: LedgerRuntime, tenant: str, mpan: str, meter: str) -> MeterReadings | None:
    try:
        found: MeterReadings = runtime.ledger.repository.get(meter_readings_id(tenant, mpan, meter))
    except AggregateNotFoundError:
        return None
    assert isinstance(found, MeterReadings)
    return found


def store_d0010(runtime: LedgerRuntime, data: bytes, tenant: str = "default") -> str:
    """What the pipeline does with a D0010's readings: one event per meter, then the views."""
    sha256 = hashlib.sha256(data).hexdigest()
    parsed = read_dtc(io.BytesIO(data))
    readings = [item for item in parsed.items() if isinstance(item, MeterReading)]
    for (mpan, meter), of_meter in readings_by_meter(readings).items():
        held = record_readings(
            tenant, sha256, "D0010", of_meter, existing(runtime, tenant, mpan, meter)
        )
        if held is not None:
            runtime.ledger.save(held)
    runtime.runner.catch_up()
    return sha256


def listed(
    runtime: LedgerRuntime, mpan: str, meter: str | None = None, tenant: str = "default"
) -> list[ReadingRow]:
    with runtime.database.transaction(write=False) as tx:
        return meter_readings(tx, tenant, mpan, meter)


FIRST = [
    SampleReading(MPAN, "M1", "01", MORNING, Decimal("20231.5")),
    SampleReading(MPAN, "M1", "02", MORNING, Decimal("64472.0"), flag="F"),
    SampleReading(MPAN, "M2", "S", MORNING, Decimal("0.000001")),
    SampleReading(OTHER_MPAN, "M3", "S", MORNING, Decimal("7")),
]


def test_a_d0010_s_readings_are_listed_by_mpan_with_their_source(runtime: LedgerRuntime) -> None:
    sha256 = store_d0010(runtime, d0010_file(FIRST, creation_time=CREATED))
    rows = listed(runtime, MPAN)
    assert [(r.meter, r.register, r.reading) for r in rows] == [
        ("M1", "01", Decimal("20231.5")),
        ("M1", "02", Decimal("64472.0")),
        ("M2", "S", Decimal("0.000001")),
    ]
    first = rows[0]
    assert first.read_at == MORNING
    assert (first.flow, first.source_sha256, first.record_position) == ("D0010", sha256, 4)
    assert first.reading_type == "C"
    assert first.attributes == {
        "bsc_validation_status": "V",
        "meter_reading_flag": "T",
        "reading_method": "N",
    }
    assert rows[1].attributes["meter_reading_flag"] == "F"
    assert [r.register for r in listed(runtime, MPAN, "M2")] == ["S"]
    assert [r.meter for r in listed(runtime, OTHER_MPAN)] == ["M3"]


def test_a_later_reading_of_the_same_register_is_kept_beside_the_first(
    runtime: LedgerRuntime,
) -> None:
    first = store_d0010(runtime, d0010_file(FIRST[:1], creation_time=CREATED))
    reread = [SampleReading(MPAN, "M1", "01", MORNING, Decimal("20232.0"), reading_type="Q")]
    second = store_d0010(runtime, d0010_file(reread, creation_time=CREATED, file_id="F2"))
    rows = listed(runtime, MPAN, "M1")
    assert [(r.reading, r.reading_type, r.source_sha256) for r in rows] == [
        (Decimal("20231.5"), "C", first),
        (Decimal("20232.0"), "Q", second),
    ]
    held = existing(runtime, "default", MPAN, "M1")
    assert held is not None
    assert held.sources == [first, second]
    assert [r.reading for r in held.readings] == [Decimal("20231.5"), Decimal("20232.0")]
    assert held.readings[0].read_at == MORNING


def test_the_same_file_stored_again_adds_nothing(runtime: LedgerRuntime) -> None:
    data = d0010_file(FIRST, creation_time=CREATED)
    store_d0010(runtime, data)
    store_d0010(runtime, data)
    assert len(listed(runtime, MPAN)) == 3
    held = existing(runtime, "default", MPAN, "M1")
    assert held is not None and held.version == 1


def test_another_tenant_s_readings_are_invisible(runtime: LedgerRuntime) -> None:
    store_d0010(runtime, d0010_file(FIRST, creation_time=CREATED), tenant="tenant-b")
    assert listed(runtime, MPAN) == []
    assert len(listed(runtime, MPAN, tenant="tenant-b")) == 3


def test_the_view_rebuilt_from_the_log_is_the_same(runtime: LedgerRuntime) -> None:
    store_d0010(runtime, d0010_file(FIRST, creation_time=CREATED))
    store_d0010(runtime, d0010_file(FIRST[:1], creation_time=CREATED, file_id="F2"))
    before = listed(runtime, MPAN)
    runtime.rebuild(["meter_readings"])
    assert listed(runtime, MPAN) == before
    assert runtime.verify().equal
