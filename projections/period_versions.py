"""Every version of every settlement-period value, and the best available one per period.

``period_versions`` holds one row per version with its provenance and the instant the ledger
learned it, so "as known at T" is an indexed query. ``best_versions`` names the best
available version of each period: most mature run, then highest run number, then latest file
creation time (then the latest version, so a correction wins over what it corrects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.aggregates import SettlementPeriod
from ledger.domain.measures import Measures
from ledger.domain.runs import RunType, best_run_key

_VERSION_COLUMNS = (
    "tenant",
    "subject",
    "settlement_date",
    "settlement_period",
    "version",
    "kind",
    "run_type",
    "maturity",
    "maturity_rank",
    "run_number",
    "file_creation_time",
    "recorded_at",
    "values_json",
    "attributes_json",
    "unconfirmed_json",
    "flow",
    "source_sha256",
    "record_position",
    "supersedes",
    "reason",
    "actor",
    "notification_id",
)
_PG_TYPES = (
    "text",
    "text",
    "date",
    "int4",
    "int4",
    "text",
    "text",
    "text",
    "int4",
    "int4",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int4",
    "int4",
    "text",
    "text",
    "int8",
)
_KEY = "tenant, subject, settlement_date, settlement_period"
_BEST_COLUMNS = (
    "tenant",
    "subject",
    "settlement_date",
    "settlement_period",
    "version",
    "maturity_rank",
    "run_number",
    "file_creation_time",
)
_BETTER = (
    "(excluded.maturity_rank, excluded.run_number, excluded.file_creation_time,"
    " excluded.version) > (best_versions.maturity_rank, best_versions.run_number,"
    " best_versions.file_creation_time, best_versions.version)"
)


@dataclass(frozen=True)
class VersionRow:
    """One version of a period's values as the view holds it."""

    version: int
    kind: str
    run_type: str
    maturity: str
    maturity_rank: int
    run_number: int
    file_creation_time: datetime
    recorded_at: datetime
    values: dict[str, Decimal]
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]]
    flow: str | None
    source_sha256: str | None
    record_position: int | None
    supersedes: int | None
    reason: str | None
    actor: str | None

    @property
    def best_key(self) -> tuple[int, int, datetime, int]:
        # A later version breaks ties, so a correction ranks just above what it corrects.
        run_key = best_run_key(RunType(self.run_type), self.run_number, self.file_creation_time)
        return (*run_key, self.version)


def best_of(versions: Sequence[VersionRow]) -> VersionRow | None:
    """The best available version among those given (None when there are none)."""
    return max(versions, key=lambda v: v.best_key, default=None)


def _rank(best_row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The best-available order of a best_versions row, as ``VersionRow.best_key``."""
    return (*best_row[5:8], best_row[4])


class PeriodVersionsProjection:
    """Builds ``period_versions`` and ``best_versions`` from settlement-period events."""

    name = "period_versions"

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS period_versions ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                " version INTEGER NOT NULL, kind TEXT NOT NULL, run_type TEXT NOT NULL,"
                " maturity TEXT NOT NULL, maturity_rank INTEGER NOT NULL,"
                f" run_number INTEGER NOT NULL, file_creation_time {t['TS']} NOT NULL,"
                f" recorded_at {t['TS']} NOT NULL, values_json TEXT NOT NULL,"
                " attributes_json TEXT NOT NULL, unconfirmed_json TEXT NOT NULL,"
                " flow TEXT, source_sha256 TEXT, record_position INTEGER,"
                " supersedes INTEGER, reason TEXT, actor TEXT,"
                f" notification_id {t['BIGINT']} NOT NULL,"
                f" PRIMARY KEY ({_KEY}, version))"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS period_versions_by_source"
                " ON period_versions (source_sha256)"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS best_versions ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                " version INTEGER NOT NULL, maturity_rank INTEGER NOT NULL,"
                f" run_number INTEGER NOT NULL, file_creation_time {t['TS']} NOT NULL,"
                f" PRIMARY KEY ({_KEY}))"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS period_interventions ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                f" version INTEGER NOT NULL, recorded_at {t['TS']} NOT NULL,"
                " actor TEXT NOT NULL, reason TEXT NOT NULL, outcome TEXT NOT NULL,"
                f" PRIMARY KEY ({_KEY}, version))"
            )

    def clear(self, tx: Tx) -> None:
        for table in ("period_versions", "best_versions", "period_interventions"):
            tx.execute(f"DELETE FROM {table}")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        rows: list[tuple[Any, ...]] = []
        corrections: list[tuple[int, SettlementPeriod.CorrectionApplied]] = []
        interventions: list[tuple[Any, ...]] = []
        for nid, event in events:
            if isinstance(event, SettlementPeriod.ValuesRecordedFields):
                rows.append(_values_row(nid, event))
            elif isinstance(event, SettlementPeriod.CorrectionApplied):
                corrections.append((nid, event))
            elif isinstance(event, SettlementPeriod.ManualInterventionRecorded):
                interventions.append(
                    (
                        event.tenant,
                        event.subject,
                        event.settlement_date,
                        event.settlement_period,
                        event.originator_version,
                        event.timestamp,
                        event.actor,
                        event.reason,
                        event.outcome,
                    )
                )
        if rows:
            self._insert_versions(tx, rows)
        for nid, correction in corrections:
            # A correction inherits the run keys of what it supersedes, so it ranks just
            # above it and never above a later run.
            self._insert_versions(tx, [self._correction_row(tx, nid, correction)])
        if interventions:
            tx.insert_rows(
                "period_interventions",
                (
                    "tenant",
                    "subject",
                    "settlement_date",
                    "settlement_period",
                    "version",
                    "recorded_at",
                    "actor",
                    "reason",
                    "outcome",
                ),
                interventions,
            )

    def _insert_versions(self, tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        tx.insert_rows("period_versions", _VERSION_COLUMNS, rows, pg_types=_PG_TYPES)
        # Only the best candidate per period in this batch competes with the stored best.
        # Rows are in _VERSION_COLUMNS order; a best_versions row is the period key, the
        # version, then the run keys (maturity rank, run number, file creation time).
        candidates: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for r in rows:
            best = (*r[0:5], r[8], r[9], r[10])
            held = candidates.get(r[0:4])
            if held is None or _rank(best) > _rank(held):
                candidates[r[0:4]] = best
        cols = ", ".join(_BEST_COLUMNS)
        upsert = (
            f" ON CONFLICT ({_KEY}) DO UPDATE SET version = excluded.version,"
            " maturity_rank = excluded.maturity_rank, run_number = excluded.run_number,"
            f" file_creation_time = excluded.file_creation_time WHERE {_BETTER}"
        )
        if tx.kind == "postgres":
            tx.execute(
                "CREATE TEMP TABLE IF NOT EXISTS best_candidates"
                " (LIKE best_versions) ON COMMIT DELETE ROWS"
            )
            tx.execute("DELETE FROM best_candidates")
            tx.insert_rows(
                "best_candidates",
                _BEST_COLUMNS,
                candidates.values(),
                pg_types=("text", "text", "date", "int4", "int4", "int4", "int4", "timestamptz"),
            )
            tx.execute(
                f"INSERT INTO best_versions ({cols}) SELECT {cols} FROM best_candidates{upsert}"
            )
        else:
            marks = ", ".join("?" for _ in _BEST_COLUMNS)
            tx.executemany(
                f"INSERT INTO best_versions ({cols}) VALUES ({marks}){upsert}",
                candidates.values(),
            )

    def _correction_row(
        self, tx: Tx, nid: int, event: SettlementPeriod.CorrectionApplied
    ) -> tuple[Any, ...]:
        found = tx.execute(
            "SELECT run_type, maturity, maturity_rank, run_number, file_creation_time,"
            " attributes_json, flow FROM period_versions WHERE tenant = ? AND subject = ?"
            " AND settlement_date = ? AND settlement_period = ? AND version = ?",
            (
                event.tenant,
                event.subject,
                event.settlement_date,
                event.settlement_period,
                event.supersedes,
            ),
        ).fetchone()
        assert found is not None, "a correction names a version the view does not hold"
        run_type, maturity, rank, run_number, created, attributes, flow = found
        return (
            event.tenant,
            event.subject,
            event.settlement_date,
            event.settlement_period,
            event.originator_version,
            "correction",
            run_type,
            maturity,
            rank,
            run_number,
            as_datetime(created),
            event.timestamp,
            _values_json(event.values),
            attributes,
            "{}",
            flow,
            None,
            None,
            event.supersedes,
            event.reason,
            event.actor,
            nid,
        )


_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_RANKS = {str(run): run.maturity_rank for run in RunType}


def _values_json(values: Mapping[str, Decimal]) -> str:
    if isinstance(values, Measures):
        return _to_json(values.as_text())
    return _to_json({k: str(v) for k, v in values.items()})


def _values_row(nid: int, e: SettlementPeriod.ValuesRecordedFields) -> tuple[Any, ...]:
    return (
        e.tenant,
        e.subject,
        e.settlement_date,
        e.settlement_period,
        e.originator_version,
        "run",
        e.run_type,
        e.maturity,
        _RANKS[e.run_type],
        e.run_number,
        e.file_creation_time,
        e.timestamp,
        _values_json(e.values),
        _to_json(e.attributes) if e.attributes else "{}",
        _to_json(e.unconfirmed) if e.unconfirmed else "{}",
        e.flow,
        e.source_sha256,
        e.record_position,
        None,
        None,
        None,
        nid,
    )


def _period_rows(
    tx: Tx,
    columns: str,
    table: str,
    key: tuple[str, str, date, int],
    as_of: datetime | None,
) -> list[tuple[Any, ...]]:
    """A period's rows of one view, by version; with ``as_of``, those recorded by then."""
    sql = (
        f"SELECT {columns} FROM {table} WHERE tenant = ? AND subject = ?"
        " AND settlement_date = ? AND settlement_period = ?"
    )
    params: list[Any] = list(key)
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(as_of)
    return tx.execute(sql + " ORDER BY version", params).fetchall()


def period_versions(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    as_of: datetime | None = None,
) -> list[VersionRow]:
    """Every version of a period, oldest first; with ``as_of``, only those known by then."""
    rows = _period_rows(
        tx,
        "version, kind, run_type, maturity, maturity_rank, run_number, file_creation_time,"
        " recorded_at, values_json, attributes_json, unconfirmed_json, flow, source_sha256,"
        " record_position, supersedes, reason, actor",
        "period_versions",
        (tenant, subject, settlement_date, settlement_period),
        as_of,
    )
    return [
        VersionRow(
            version=r[0],
            kind=r[1],
            run_type=r[2],
            maturity=r[3],
            maturity_rank=r[4],
            run_number=r[5],
            file_creation_time=as_datetime(r[6]),
            recorded_at=as_datetime(r[7]),
            values={k: Decimal(v) for k, v in json.loads(r[8]).items()},
            attributes=json.loads(r[9]),
            unconfirmed=json.loads(r[10]),
            flow=r[11],
            source_sha256=r[12],
            record_position=r[13],
            supersedes=r[14],
            reason=r[15],
            actor=r[16],
        )
        for r in rows
    ]


def best_versions(tx: Tx, tenant: str) -> dict[tuple[str, date, int], int]:
    """The best available version number of every period of a tenant (for bulk reads)."""
    rows = tx.execute(
        "SELECT subject, settlement_date, settlement_period, version FROM best_versions"
        " WHERE tenant = ?",
        (tenant,),
    ).fetchall()
    return {(str(s), as_date(d), int(p)): int(v) for s, d, p, v in rows}


def period_interventions(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """Manual interventions on a period, oldest first; with ``as_of``, those made by then."""
    rows = _period_rows(
        tx,
        "version, recorded_at, actor, reason, outcome",
        "period_interventions",
        (tenant, subject, settlement_date, settlement_period),
        as_of,
    )
    return [
        {
            "version": int(version),
            "recorded_at": as_datetime(at).isoformat(),
            "actor": actor,
            "reason": reason,
            "outcome": outcome,
        }
        for version, at, actor, reason, outcome in rows
    ]
