"""Every version of every settlement-period value, and the manual interventions on each period.

``period_versions`` holds one row per version with its provenance and the instant the ledger
learned it, so "as known at T" is an indexed query; ``period_interventions`` holds who
intervened on a period, why and with what outcome. Queries return named rows (``VersionRow``,
``InterventionRow``); which version is best available is the service's to say, from a
period's versions (a period has a handful, all read anyway to show them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ledger.adapters.memo import MappingMemo
from ledger.adapters.storage import Database, Tx, as_datetime
from ledger.domain.aggregates import CONFLICTING_RUN, SettlementPeriod
from ledger.domain.measures import Measures
from ledger.domain.runs import RunType

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
    "int8",  # run_number: an instant as YYYYMMDDHHMMSS for values from no settlement run
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


@dataclass(frozen=True)
class VersionRow:
    """A row of ``period_versions``: one version of a period's values, with its provenance."""

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


class InterventionRow(NamedTuple):
    """A row of ``period_interventions``: a person's manual intervention on a period.

    ``action`` is hold, pin or release (None for a free-text intervention recorded before
    interventions were typed), ``pinned_version`` the version a pin names, and ``outcome``
    what happened in words."""

    version: int
    recorded_at: datetime
    actor: str
    reason: str
    outcome: str
    action: str | None
    pinned_version: int | None


class PeriodVersionsProjection:
    """Builds ``period_versions`` and ``period_interventions`` from settlement-period events."""

    name = "period_versions"
    tables = ("period_versions", "period_sources", "period_interventions")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS period_versions ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                " version INTEGER NOT NULL, kind TEXT NOT NULL, run_type TEXT NOT NULL,"
                " maturity TEXT NOT NULL, maturity_rank INTEGER NOT NULL,"
                f" run_number {t['BIGINT']} NOT NULL, file_creation_time {t['TS']} NOT NULL,"
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
                "CREATE TABLE IF NOT EXISTS period_sources ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                f" version INTEGER NOT NULL, confirms INTEGER NOT NULL,"
                f" recorded_at {t['TS']} NOT NULL, flow TEXT NOT NULL,"
                " source_sha256 TEXT NOT NULL, record_position INTEGER NOT NULL,"
                f" PRIMARY KEY ({_KEY}, version))"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS period_interventions ("
                " tenant TEXT NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                f" version INTEGER NOT NULL, recorded_at {t['TS']} NOT NULL,"
                " actor TEXT NOT NULL, reason TEXT NOT NULL, outcome TEXT NOT NULL,"
                " action TEXT, pinned_version INTEGER,"
                f" PRIMARY KEY ({_KEY}, version))"
            )
            # Added with typed interventions: a table set up before lacks them.
            for column, sql_type in (("action", "TEXT"), ("pinned_version", "INTEGER")):
                if not database.has_column(tx, "period_interventions", column):
                    tx.execute(f"ALTER TABLE period_interventions ADD COLUMN {column} {sql_type}")
            # Run numbers of values from no settlement run are instants (schema 6).
            database.widen_to_bigint(tx, "period_versions", "run_number")

    def clear(self, tx: Tx) -> None:
        for table in ("period_versions", "period_sources", "period_interventions"):
            tx.execute(f"DELETE FROM {table}")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        rows: list[tuple[Any, ...]] = []
        corrections: list[tuple[int, SettlementPeriod.CorrectionApplied]] = []
        interventions: list[tuple[Any, ...]] = []
        sources: list[tuple[Any, ...]] = []
        for nid, event in events:
            if isinstance(event, SettlementPeriod.ValuesRecordedFields):
                rows.append(_values_row(nid, event))
            elif isinstance(event, SettlementPeriod.SourceAdded):
                sources.append(_source_row(event))
            elif isinstance(event, SettlementPeriod.CorrectionApplied):
                corrections.append((nid, event))
            elif isinstance(event, _INTERVENTIONS):
                interventions.append(_intervention_row(event))
        if rows:
            self._insert_versions(tx, rows)
        for nid, correction in corrections:
            # A correction inherits the run keys of what it supersedes, so it ranks just
            # above it and never above a later run.
            self._insert_versions(tx, [self._correction_row(tx, nid, correction)])
        if sources:
            tx.insert_rows("period_sources", _SOURCE_COLUMNS, sources)
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
                    "action",
                    "pinned_version",
                ),
                interventions,
            )

    def _insert_versions(self, tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        tx.insert_rows("period_versions", _VERSION_COLUMNS, rows, pg_types=_PG_TYPES)

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
# A BM Unit's attributes repeat in each of its periods: each distinct set encoded once.
_attributes_json = MappingMemo(_to_json)
_RANKS = {str(run): run.maturity_rank for run in RunType}


def _values_json(values: Mapping[str, Decimal]) -> str:
    return Measures.of(values).as_json()


_SOURCE_COLUMNS = (
    "tenant",
    "subject",
    "settlement_date",
    "settlement_period",
    "version",
    "confirms",
    "recorded_at",
    "flow",
    "source_sha256",
    "record_position",
)


def _source_row(e: SettlementPeriod.SourceAdded) -> tuple[Any, ...]:
    return (
        e.tenant,
        e.subject,
        e.settlement_date,
        e.settlement_period,
        e.originator_version,
        e.version,
        e.timestamp,
        e.flow,
        e.source_sha256,
        e.record_position,
    )


# A typed intervention, or a free-text one recorded before interventions were typed.
_INTERVENTIONS = (SettlementPeriod.InterventionMade, SettlementPeriod.ManualInterventionRecorded)


def _intervention_row(
    e: SettlementPeriod.InterventionMade | SettlementPeriod.ManualInterventionRecorded,
) -> tuple[Any, ...]:
    action = e.action if isinstance(e, SettlementPeriod.InterventionMade) else None
    pinned = e.version if isinstance(e, SettlementPeriod.VersionPinned) else None
    return (
        e.tenant,
        e.subject,
        e.settlement_date,
        e.settlement_period,
        e.originator_version,
        e.timestamp,
        e.actor,
        e.reason,
        e.outcome,
        action,
        pinned,
    )


def _values_row(nid: int, e: SettlementPeriod.ValuesRecordedFields) -> tuple[Any, ...]:
    conflicting = isinstance(e, SettlementPeriod.ConflictingValuesRecorded)
    return (
        e.tenant,
        e.subject,
        e.settlement_date,
        e.settlement_period,
        e.originator_version,
        CONFLICTING_RUN if conflicting else "run",
        e.run_type,
        e.maturity,
        _RANKS[e.run_type],
        e.run_number,
        e.file_creation_time,
        e.timestamp,
        _values_json(e.values),
        _attributes_json(e.attributes) if e.attributes else "{}",
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
    table: str,
    columns: Sequence[str],
    key: tuple[str, str, date, int],
    as_of: datetime | None,
) -> list[dict[str, Any]]:
    """A period's rows of one view, by column name, oldest version first; with ``as_of``,
    those recorded by then. ``key`` is (tenant, subject, settlement date, period)."""
    sql = (
        f"SELECT {', '.join(columns)} FROM {table} WHERE tenant = ? AND subject = ?"
        " AND settlement_date = ? AND settlement_period = ?"
    )
    params: list[Any] = list(key)
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(as_of)
    rows = tx.execute(sql + " ORDER BY version", params).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


# A version as a period's query reads it: every column but the period's key and the position.
_VERSION_QUERY = tuple(
    c
    for c in _VERSION_COLUMNS
    if c not in ("tenant", "subject", "settlement_date", "settlement_period", "notification_id")
)


def _version_row(r: Mapping[str, Any]) -> VersionRow:
    return VersionRow(
        version=int(r["version"]),
        kind=r["kind"],
        run_type=r["run_type"],
        maturity=r["maturity"],
        maturity_rank=int(r["maturity_rank"]),
        run_number=int(r["run_number"]),
        file_creation_time=as_datetime(r["file_creation_time"]),
        recorded_at=as_datetime(r["recorded_at"]),
        values={k: Decimal(v) for k, v in json.loads(r["values_json"]).items()},
        attributes=json.loads(r["attributes_json"]),
        unconfirmed=json.loads(r["unconfirmed_json"]),
        flow=r["flow"],
        source_sha256=r["source_sha256"],
        record_position=r["record_position"],
        supersedes=r["supersedes"],
        reason=r["reason"],
        actor=r["actor"],
    )


def subject_known(tx: Tx, tenant: str, subject: str) -> bool:
    """Whether the tenant has any version of the subject, on any settlement date (the
    primary key's first columns: one index probe)."""
    row = tx.execute(
        "SELECT 1 FROM period_versions WHERE tenant = ? AND subject = ? LIMIT 1", (tenant, subject)
    ).fetchone()
    return row is not None


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
    key = (tenant, subject, settlement_date, settlement_period)
    rows = _period_rows(tx, "period_versions", _VERSION_QUERY, key, as_of)
    return [_version_row(r) for r in rows]


class SourceRow(NamedTuple):
    """A row of ``period_sources``: a further delivery of a version's values (same run, same
    values, another file or record)."""

    confirms: int
    recorded_at: datetime
    flow: str
    source_sha256: str
    record_position: int


def period_sources(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    as_of: datetime | None = None,
) -> list[SourceRow]:
    """Further sources of a period's versions, in the order they arrived; with ``as_of``,
    those known by then."""
    key = (tenant, subject, settlement_date, settlement_period)
    rows = _period_rows(tx, "period_sources", SourceRow._fields, key, as_of)
    return [
        SourceRow(
            confirms=int(r["confirms"]),
            recorded_at=as_datetime(r["recorded_at"]),
            flow=r["flow"],
            source_sha256=r["source_sha256"],
            record_position=int(r["record_position"]),
        )
        for r in rows
    ]


def period_interventions(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    as_of: datetime | None = None,
) -> list[InterventionRow]:
    """Manual interventions on a period, oldest first; with ``as_of``, those made by then."""
    key = (tenant, subject, settlement_date, settlement_period)
    rows = _period_rows(tx, "period_interventions", InterventionRow._fields, key, as_of)
    return [_intervention_of(r) for r in rows]


# --- a period's history and a whole settlement day ---------------------------------------------


class SourceStep(NamedTuple):
    """A further source as a step of its period's history: ``version`` is the event's place in
    the period's stream (the order of every view's rows of the period)."""

    version: int
    source: SourceRow


def period_source_steps(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    as_of: datetime | None = None,
) -> list[SourceStep]:
    """Further sources of a period's versions with each one's place in the period's stream,
    in the order they arrived; with ``as_of``, those known by then."""
    key = (tenant, subject, settlement_date, settlement_period)
    rows = _period_rows(tx, "period_sources", ("version", *SourceRow._fields), key, as_of)
    return [
        SourceStep(
            version=int(r["version"]),
            source=SourceRow(
                confirms=int(r["confirms"]),
                recorded_at=as_datetime(r["recorded_at"]),
                flow=r["flow"],
                source_sha256=r["source_sha256"],
                record_position=int(r["record_position"]),
            ),
        )
        for r in rows
    ]


def _day_rows(
    tx: Tx,
    table: str,
    columns: Sequence[str],
    key: tuple[str, str, date],
    as_of: datetime | None,
) -> dict[int, list[dict[str, Any]]]:
    """A settlement day's rows of one view by period, each period's oldest version first; with
    ``as_of``, those recorded by then. One query for the whole day, on the first three columns
    of the primary key (tenant, subject, settlement date), in its order."""
    sql = (
        f"SELECT settlement_period, {', '.join(columns)} FROM {table}"
        " WHERE tenant = ? AND subject = ? AND settlement_date = ?"
    )
    params: list[Any] = list(key)
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(as_of)
    by_period: dict[int, list[dict[str, Any]]] = {}
    for row in tx.execute(sql + " ORDER BY settlement_period, version", params).fetchall():
        by_period.setdefault(int(row[0]), []).append(dict(zip(columns, row[1:], strict=True)))
    return by_period


def day_versions(
    tx: Tx, tenant: str, subject: str, settlement_date: date, *, as_of: datetime | None = None
) -> dict[int, list[VersionRow]]:
    """Every version of every period of a settlement day, by period, oldest first; with
    ``as_of``, only those known by then. A period with no version has no entry."""
    key = (tenant, subject, settlement_date)
    rows = _day_rows(tx, "period_versions", _VERSION_QUERY, key, as_of)
    return {period: [_version_row(r) for r in found] for period, found in rows.items()}


def day_interventions(
    tx: Tx, tenant: str, subject: str, settlement_date: date, *, as_of: datetime | None = None
) -> dict[int, list[InterventionRow]]:
    """Manual interventions on every period of a settlement day, by period, oldest first; with
    ``as_of``, those made by then. A period with none has no entry."""
    key = (tenant, subject, settlement_date)
    rows = _day_rows(tx, "period_interventions", InterventionRow._fields, key, as_of)
    return {period: [_intervention_of(r) for r in found] for period, found in rows.items()}


def _intervention_of(r: Mapping[str, Any]) -> InterventionRow:
    return InterventionRow(
        version=int(r["version"]),
        recorded_at=as_datetime(r["recorded_at"]),
        actor=r["actor"],
        reason=r["reason"],
        outcome=r["outcome"],
        action=r["action"],
        pinned_version=None if r["pinned_version"] is None else int(r["pinned_version"]),
    )
