"""The meter readings aggregate (ledger.domain.readings): one per tenant, MPAN and meter; a
file's readings are one event; nothing is ever edited."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.demo.dtc_samples import sample_mpan
from ledger.domain.errors import InvalidIdentifier
from ledger.domain.readings import (
    MeterReadings,
    ReadingsRefused,
    meter_readings_id,
    readings_by_meter,
    record_readings,
)
from ledger.flows.canonical import MeterReading

MPAN = sample_mpan(1)
OTHER_MPAN = sample_mpan(2)
AT = datetime(2026, 6, 1, 8, tzinfo=UTC)


def reading(
    register: str = "01",
    value: str = "100.5",
    *,
    mpan: str = MPAN,
    meter: str = "M1",
    position: int = 4,
) -> MeterReading:
    return MeterReading(
        mpan=mpan,
        meter=meter,
        register=register,
        read_at=AT,
        reading=Decimal(value),
        reading_type="C",
        attributes={"meter_reading_flag": "T"},
        record_position=position,
    )


def test_a_meter_s_readings_land_on_one_aggregate_per_tenant_mpan_and_meter() -> None:
    assert meter_readings_id("t1", MPAN, "M1") == meter_readings_id("t1", MPAN, "M1")
    assert (
        len(
            {
                meter_readings_id("t1", MPAN, "M1"),
                meter_readings_id("t2", MPAN, "M1"),
                meter_readings_id("t1", OTHER_MPAN, "M1"),
                meter_readings_id("t1", MPAN, "M2"),
            }
        )
        == 4
    )
    first = record_readings("t1", "a" * 64, "D0010", [reading()], None)
    assert first is not None
    assert first.id == meter_readings_id("t1", MPAN, "M1")


def test_each_file_is_one_event_and_earlier_readings_stay() -> None:
    held = record_readings("t1", "a" * 64, "D0010", [reading("01"), reading("02")], None)
    assert held is not None
    again = record_readings("t1", "b" * 64, "D0010", [reading("01", "101.0")], held)
    assert again is held
    events = held.collect_events()
    assert [type(e).__name__ for e in events] == ["FirstReadingsRecorded", "ReadingsRecorded"]
    assert [(r.register, r.reading, r.source_sha256[0]) for r in held.readings] == [
        ("01", Decimal("100.5"), "a"),
        ("02", Decimal("100.5"), "a"),
        ("01", Decimal("101.0"), "b"),
    ]
    assert held.sources == ["a" * 64, "b" * 64]
    assert held.readings[0].read_at == AT
    assert held.readings[0].attributes == {"meter_reading_flag": "T"}
    assert held.readings[0].record_position == 4
    assert held.readings[0].flow == "D0010"


def test_the_same_file_again_adds_nothing() -> None:
    held = record_readings("t1", "a" * 64, "D0010", [reading()], None)
    assert held is not None
    assert record_readings("t1", "a" * 64, "D0010", [reading()], held) is None
    with pytest.raises(ReadingsRefused, match="already holds the readings of file"):
        held.record(flow="D0010", sha256="a" * 64, readings=[reading()])


def test_events_carry_plain_json_text() -> None:
    held = record_readings("t1", "a" * 64, "D0010", [reading(value="0.000001")], None)
    assert held is not None
    (event,) = held.collect_events()
    assert isinstance(event, MeterReadings.FirstReadingsRecorded)
    assert event.readings == [
        {
            "register": "01",
            "read_at": "2026-06-01T08:00:00+00:00",
            "reading": "0.000001",
            "reading_type": "C",
            "attributes": {"meter_reading_flag": "T"},
            "record_position": 4,
        }
    ]


def test_readings_of_another_meter_none_or_without_time_zone_are_refused() -> None:
    with pytest.raises(ReadingsRefused, match="no readings to record"):
        record_readings("t1", "a" * 64, "D0010", [], None)
    with pytest.raises(ReadingsRefused, match=f"a reading of meter M2 of MPAN {MPAN} cannot"):
        record_readings("t1", "a" * 64, "D0010", [reading(), reading(meter="M2")], None)
    naive = MeterReading(MPAN, "M1", "01", datetime(2026, 6, 1), Decimal(1), "C", {}, 3)
    with pytest.raises(ReadingsRefused, match="has no time zone"):
        record_readings("t1", "a" * 64, "D0010", [naive], None)
    with pytest.raises(InvalidIdentifier):
        record_readings("t1", "a" * 64, "D0010", [reading(mpan=MPAN[:12] + "3")], None)


def test_a_file_s_readings_are_grouped_by_mpan_and_meter_in_file_order() -> None:
    readings = [
        reading("01", position=4),
        reading("S", mpan=OTHER_MPAN, meter="M9", position=7),
        reading("02", position=5),
    ]
    grouped = readings_by_meter(readings)
    assert list(grouped) == [(MPAN, "M1"), (OTHER_MPAN, "M9")]
    assert [r.register for r in grouped[(MPAN, "M1")]] == ["01", "02"]
