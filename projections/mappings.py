"""Identity mappings as they stand, and every change to each: which internal ids a market id
stands for on a settlement date, in one indexed query.

``identity_mappings`` holds one row per mapping with its terms now (kind, internal id, market
id, first and last settlement date, both inclusive; no last date: open-ended);
``identity_mapping_history`` one row per event of a mapping (created, ended, corrected) with
the terms after it, who and why, and when the ledger recorded it, so "as known at T" is a
query too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.mappings import Mapping, MappingTerms, Validity

_CHANGES = {Mapping.Created: "created", Mapping.Ended: "ended", Mapping.Corrected: "corrected"}
_MAPPING_COLUMNS = (
    "mapping_id",
    "tenant",
    "kind",
    "internal_id",
    "market_id",
    "valid_from",
    "valid_to",
    "status",
    "last_change",
    "version",
    "created_at",
    "updated_at",
)
_HISTORY_COLUMNS = (
    "mapping_id",
    "version",
    "tenant",
    "change",
    "kind",
    "internal_id",
    "market_id",
    "valid_from",
    "valid_to",
    "actor",
    "reason",
    "recorded_at",
)
_INSERT_MAPPING = (
    f"INSERT INTO identity_mappings ({', '.join(_MAPPING_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _MAPPING_COLUMNS)})"
)
_INSERT_HISTORY = (
    f"INSERT INTO identity_mapping_history ({', '.join(_HISTORY_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _HISTORY_COLUMNS)})"
)
_MAPPING_QUERY = f"SELECT {', '.join(_MAPPING_COLUMNS)} FROM identity_mappings"
# On a settlement date: both ends inclusive, no last date meaning open-ended.
_HOLDS_ON = "valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)"


@dataclass(frozen=True)
class MappingRow:
    """A row of ``identity_mappings``: a mapping's terms as they stand."""

    mapping_id: str
    tenant: str
    kind: str
    internal_id: str
    market_id: str
    valid_from: date
    valid_to: date | None
    status: str
    last_change: str
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def terms(self) -> MappingTerms:
        return MappingTerms(
            UUID(self.mapping_id),
            self.kind,
            self.internal_id,
            self.market_id,
            Validity(self.valid_from, self.valid_to),
        )


@dataclass(frozen=True)
class ChangeRow:
    """A row of ``identity_mapping_history``: one event of a mapping, with its terms after it."""

    mapping_id: str
    version: int
    change: str
    kind: str
    internal_id: str
    market_id: str
    valid_from: date
    valid_to: date | None
    actor: str
    reason: str
    recorded_at: datetime


class MappingsProjection:
    """Builds ``identity_mappings`` and ``identity_mapping_history`` from mapping events."""

    name = "identity_mappings"
    tables = ("identity_mappings", "identity_mapping_history")

    def create_tables(self, database: Database) -> None:
        t = database.types
        terms = (
            " tenant TEXT NOT NULL, kind TEXT NOT NULL, internal_id TEXT NOT NULL,"
            f" market_id TEXT NOT NULL, valid_from {t['DATE']} NOT NULL, valid_to {t['DATE']},"
        )
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS identity_mappings (mapping_id TEXT NOT NULL,"
                f"{terms} status TEXT NOT NULL, last_change TEXT NOT NULL,"
                f" version INTEGER NOT NULL, created_at {t['TS']} NOT NULL,"
                f" updated_at {t['TS']} NOT NULL, PRIMARY KEY (mapping_id))"
            )
            # The pipeline's question (these market ids, on this date) and the clash check's.
            tx.execute(
                "CREATE INDEX IF NOT EXISTS identity_mappings_by_market"
                " ON identity_mappings (tenant, market_id, valid_from)"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS identity_mappings_by_internal"
                " ON identity_mappings (tenant, kind, internal_id, valid_from)"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS identity_mapping_history (mapping_id TEXT NOT NULL,"
                f" version INTEGER NOT NULL, change TEXT NOT NULL,{terms}"
                " actor TEXT NOT NULL, reason TEXT NOT NULL,"
                f" recorded_at {t['TS']} NOT NULL, PRIMARY KEY (mapping_id, version))"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS identity_mapping_history_by_market"
                " ON identity_mapping_history (tenant, market_id)"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM identity_mappings")
        tx.execute("DELETE FROM identity_mapping_history")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(event, Mapping.MappingEvent):
                self._apply(tx, event)

    def _apply(self, tx: Tx, event: Mapping.MappingEvent) -> None:
        key = str(event.originator_id)
        change = _CHANGES[type(event)]
        status = "open" if event.valid_to is None else "ended"
        terms = (
            event.tenant,
            event.kind,
            event.internal_id,
            event.market_id,
            event.valid_from,
            event.valid_to,
        )
        tx.execute(
            _INSERT_HISTORY,
            (key, event.originator_version, terms[0], change, *terms[1:], event.actor,
             event.reason, event.timestamp),
        )  # fmt: skip
        if isinstance(event, Mapping.Created):
            tx.execute(
                _INSERT_MAPPING,
                (key, *terms, status, change, 1, event.timestamp, event.timestamp),
            )
            return
        tx.execute(
            "UPDATE identity_mappings SET market_id = ?, valid_from = ?, valid_to = ?,"
            " status = ?, last_change = ?, version = ?, updated_at = ? WHERE mapping_id = ?",
            (event.market_id, event.valid_from, event.valid_to, status, change,
             event.originator_version, event.timestamp, key),
        )  # fmt: skip


def _mapping_row(r: Sequence[Any]) -> MappingRow:
    return MappingRow(
        mapping_id=r[0],
        tenant=r[1],
        kind=r[2],
        internal_id=r[3],
        market_id=r[4],
        valid_from=as_date(r[5]),
        valid_to=None if r[6] is None else as_date(r[6]),
        status=r[7],
        last_change=r[8],
        version=int(r[9]),
        created_at=as_datetime(r[10]),
        updated_at=as_datetime(r[11]),
    )


def _change_row(r: Sequence[Any]) -> ChangeRow:
    return ChangeRow(
        mapping_id=r[0],
        version=int(r[1]),
        change=r[3],
        kind=r[4],
        internal_id=r[5],
        market_id=r[6],
        valid_from=as_date(r[7]),
        valid_to=None if r[8] is None else as_date(r[8]),
        actor=r[9],
        reason=r[10],
        recorded_at=as_datetime(r[11]),
    )


def find_mapping(tx: Tx, tenant: str, mapping_id: str) -> MappingRow | None:
    """A tenant's mapping as it stands; None when the tenant has no such mapping."""
    row = tx.execute(
        f"{_MAPPING_QUERY} WHERE mapping_id = ? AND tenant = ?", (mapping_id, tenant)
    ).fetchone()
    return None if row is None else _mapping_row(row)


def mapping_history(tx: Tx, mapping_id: str) -> list[ChangeRow]:
    """Every change to a mapping, oldest first."""
    rows = tx.execute(
        f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM identity_mapping_history"
        " WHERE mapping_id = ? ORDER BY version",
        (mapping_id,),
    ).fetchall()
    return [_change_row(r) for r in rows]


def list_mappings(
    tx: Tx,
    tenant: str,
    *,
    market_id: str | None = None,
    internal_id: str | None = None,
    kind: str | None = None,
    on: date | None = None,
) -> list[MappingRow]:
    """A tenant's mappings as they stand, by kind, internal id and first date; each filter
    given narrows them (``on``: those that hold on that settlement date)."""
    sql = f"{_MAPPING_QUERY} WHERE tenant = ?"
    params: list[Any] = [tenant]
    for column, value in (("market_id", market_id), ("internal_id", internal_id), ("kind", kind)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if on is not None:
        sql += f" AND {_HOLDS_ON}"
        params += [on, on]
    rows = tx.execute(sql + " ORDER BY kind, internal_id, valid_from, mapping_id", params)
    return [_mapping_row(r) for r in rows.fetchall()]


def related_terms(
    tx: Tx, tenant: str, kind: str, internal_id: str, market_id: str
) -> list[MappingTerms]:
    """The terms of every mapping of the tenant that could clash with a mapping of ``kind``
    ``internal_id`` to ``market_id``: the same kind, and the same internal id or market id."""
    rows = tx.execute(
        f"{_MAPPING_QUERY} WHERE tenant = ? AND kind = ? AND internal_id = ?"
        f" UNION {_MAPPING_QUERY} WHERE tenant = ? AND kind = ? AND market_id = ?",
        (tenant, kind, internal_id, tenant, kind, market_id),
    ).fetchall()
    return [_mapping_row(r).terms for r in rows]


def _any_of(tx: Tx, column: str, values: Sequence[str]) -> tuple[str, Any]:
    """A condition that ``column`` is one of ``values``, as one parameter however many there
    are: an array on PostgreSQL, a JSON array read by ``json_each`` on SQLite."""
    if tx.kind == "postgres":
        return f"{column} = ANY(?)", list(values)
    return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values))


def internal_ids_on(
    tx: Tx, tenant: str, market_ids: Iterable[str], settlement_date: date
) -> dict[str, list[tuple[str, str]]]:
    """For each of ``market_ids`` that has a mapping holding on ``settlement_date``, the
    (kind, internal id) of each, by kind. One query, whatever the number of market ids."""
    wanted = sorted(set(market_ids))
    if not wanted:
        return {}
    condition, values = _any_of(tx, "market_id", wanted)
    rows = tx.execute(
        "SELECT market_id, kind, internal_id FROM identity_mappings"
        f" WHERE tenant = ? AND {condition} AND {_HOLDS_ON} ORDER BY market_id, kind",
        (tenant, values, settlement_date, settlement_date),
    ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for market, kind, internal in rows:
        found.setdefault(str(market), []).append((str(kind), str(internal)))
    return found


def internal_ids_known(
    tx: Tx, tenant: str, market_id: str, settlement_date: date, as_of: datetime
) -> list[tuple[str, str]]:
    """The (kind, internal id) of each mapping of ``market_id`` holding on ``settlement_date``
    as the ledger knew them at ``as_of`` (each mapping's terms after its last change by then),
    by kind. One query: every change by then of each mapping that ever named the market id."""
    rows = tx.execute(
        f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM identity_mapping_history"
        " WHERE mapping_id IN (SELECT mapping_id FROM identity_mapping_history"
        " WHERE tenant = ? AND market_id = ?) AND recorded_at <= ? ORDER BY mapping_id, version",
        (tenant, market_id, as_of),
    ).fetchall()
    latest = {change.mapping_id: change for change in map(_change_row, rows)}
    return sorted(
        (change.kind, change.internal_id)
        for change in latest.values()
        if change.market_id == market_id
        and Validity(change.valid_from, change.valid_to).holds_on(settlement_date)
    )


MARKET_ID_KINDS = ("mpan", "bmu", "party")


def mapped_kinds(tx: Tx, tenant: str) -> set[str]:
    """The kinds of market id (``mpan``, ``bmu``, ``party``) the tenant maps at all: a tenant
    that maps none of a kind (a supplier mapping its MPANs, not the BM Units of an
    all-parties report) expects no mapping for that kind."""
    found = set()
    for kind in MARKET_ID_KINDS:
        row = tx.execute(
            "SELECT 1 FROM identity_mappings WHERE tenant = ? AND market_id LIKE ? LIMIT 1",
            (tenant, f"{kind}:%"),
        ).fetchone()
        if row is not None:
            found.add(kind)
    return found
