"""Meter readings as delivered: one row per reading, with the file that delivered it.

``meter_readings`` holds every reading of every meter, never updated: a file's readings are
inserted when its ``ReadingsRecorded`` event is applied, each keyed by the meter's aggregate,
the event's version and the reading's place in it. "What did the data collectors say this
meter read, and in which file?" is one indexed query (:func:`meter_readings`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledger.adapters.storage import Database, Tx, as_datetime
from ledger.domain.readings import MeterReadings

_COLUMNS = (
    "mpan",
    "meter",
    "register",
    "read_at",
    "reading",
    "reading_type",
    "attributes_json",
    "flow",
    "source_sha256",
    "record_position",
    "recorded_at",
)


@dataclass(frozen=True)
class ReadingRow:
    """A row of ``meter_readings``: one reading and where it came from."""

    mpan: str
    meter: str
    register: str
    read_at: datetime
    reading: Decimal
    reading_type: str
    attributes: dict[str, str]
    flow: str
    source_sha256: str
    record_position: int
    recorded_at: datetime


class MeterReadingsProjection:
    """Builds ``meter_readings`` from meter readings events."""

    name = "meter_readings"
    tables = ("meter_readings",)

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS meter_readings ("
                " readings_id TEXT NOT NULL, version INTEGER NOT NULL, line INTEGER NOT NULL,"
                " tenant TEXT NOT NULL, mpan TEXT NOT NULL, meter TEXT NOT NULL,"
                f" register TEXT NOT NULL, read_at {t['TS']} NOT NULL, reading TEXT NOT NULL,"
                " reading_type TEXT NOT NULL, attributes_json TEXT NOT NULL,"
                " flow TEXT NOT NULL, source_sha256 TEXT NOT NULL,"
                f" record_position INTEGER NOT NULL, recorded_at {t['TS']} NOT NULL,"
                " PRIMARY KEY (readings_id, version, line))"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS meter_readings_by_mpan"
                " ON meter_readings (tenant, mpan, meter, read_at)"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM meter_readings")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        rows = [
            row
            for _nid, event in events
            if isinstance(event, MeterReadings.ReadingsRecordedFields)
            for row in _rows(event)
        ]
        if rows:
            tx.executemany(
                "INSERT INTO meter_readings (readings_id, version, line, tenant, "
                f"{', '.join(_COLUMNS)}) VALUES ({', '.join(['?'] * (len(_COLUMNS) + 4))})",
                rows,
            )


def _rows(event: MeterReadings.ReadingsRecordedFields) -> list[tuple[Any, ...]]:
    key = str(event.originator_id)
    return [
        (
            key,
            event.originator_version,
            line,
            event.tenant,
            event.mpan,
            event.meter,
            data["register"],
            datetime.fromisoformat(data["read_at"]),
            data["reading"],
            data["reading_type"],
            json.dumps(data["attributes"], sort_keys=True),
            event.flow,
            event.source_sha256,
            int(data["record_position"]),
            event.timestamp,
        )
        for line, data in enumerate(event.readings, start=1)
    ]


def meter_readings(tx: Tx, tenant: str, mpan: str, meter: str | None = None) -> list[ReadingRow]:
    """A tenant's readings of an MPAN's meters (of one meter, when ``meter`` is given), by
    meter, then in time order; a reading delivered by several files appears once per file,
    in the order the ledger recorded them. Another tenant's readings are invisible."""
    where, params = "tenant = ? AND mpan = ?", [tenant, mpan]
    if meter is not None:
        where, params = f"{where} AND meter = ?", [*params, meter]
    rows = tx.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM meter_readings WHERE {where}"
        " ORDER BY meter, read_at, register, recorded_at, readings_id, version, line",
        params,
    ).fetchall()
    return [_row(dict(zip(_COLUMNS, found, strict=True))) for found in rows]


def _row(r: dict[str, Any]) -> ReadingRow:
    return ReadingRow(
        mpan=r["mpan"],
        meter=r["meter"],
        register=r["register"],
        read_at=as_datetime(r["read_at"]),
        reading=Decimal(r["reading"]),
        reading_type=r["reading_type"],
        attributes=json.loads(r["attributes_json"]),
        flow=r["flow"],
        source_sha256=r["source_sha256"],
        record_position=int(r["record_position"]),
        recorded_at=as_datetime(r["recorded_at"]),
    )
