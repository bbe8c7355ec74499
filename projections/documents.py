"""Documents, the exact version each of their lines used, and which lines are stale now.

``documents`` holds one row per document (its current revision and status, and the GBP total
of its lines); ``document_lines`` one row per line of the current revision: what it used
(version, value and its unit, run, source) and what its rule would choose now (``now_version``,
``now_value``), with ``stale`` set when they differ. The choice is refreshed whenever an event
touches a period that a line uses, so "which documents are stale" is one indexed query, never a
replay.

Within a batch the period views are applied first (the runner applies views in order), so a
refresh reads the period's versions and pins as they stand after the batch; a line's ``used``
columns never change once written (a re-issue writes the new revision's lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.aggregates import SettlementPeriod
from ledger.domain.documents import Document, total_in_gbp, totals_by_measure
from ledger.domain.selection import Rule, Standing, standing_after
from ledger.flows.formats import measure_unit
from projections.period_versions import period_versions

_LINE_COLUMNS = (
    "tenant",
    "reference",
    "line",
    "revision",
    "subject",
    "settlement_date",
    "settlement_period",
    "measure",
    "rule",
    "can_go_stale",
    "used_version",
    "used_value",
    "used_kind",
    "run_type",
    "run_number",
    "source_sha256",
    "now_version",
    "now_value",
    "stale",
    "unit",
    "now_run_type",
    "now_run_number",
)
PeriodKey = tuple[str, str, date, int]  # tenant, subject, settlement date, period


@dataclass(frozen=True)
class DocumentRow:
    """A row of ``documents``: a document's current revision and status."""

    reference: str
    kind: str
    rule: str
    revision: int
    issued_at: datetime
    revised_at: datetime
    actor: str
    total: Decimal | None  # the GBP lines' total; None when the document has none
    status: str
    cancelled_by: str | None
    cancel_reason: str | None


@dataclass(frozen=True)
class LineRow:
    """A row of ``document_lines``: what a line used, and what its rule would use now."""

    reference: str
    line: int
    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    used_version: int
    used_value: Decimal
    used_kind: str
    run_type: str
    run_number: int
    source_sha256: str | None
    now_version: int | None
    now_value: Decimal | None
    stale: bool
    unit: str | None
    now_run_type: str | None
    now_run_number: int | None


class StaleLineRow(NamedTuple):
    """A stale line as the stale documents are answered: its period and measure, what it used
    and what its rule would use now (only these columns are read: thousands of them may be)."""

    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    used_version: int
    used_value: Decimal
    now_version: int | None
    now_value: Decimal | None
    unit: str | None
    run_type: str
    run_number: int
    now_run_type: str | None
    now_run_number: int | None


def line_unit(data: dict[str, Any]) -> str | None:
    """The unit of a line as its document's event gives it: the unit it recorded, or, for a
    line issued before lines recorded units (schema version 1 of the events), the unit the
    ledger's formats give its measure."""
    return data["unit"] if "unit" in data else measure_unit(data["measure"])


class DocumentsProjection:
    """Builds ``documents`` and ``document_lines`` from document and period events.

    ``documents.total`` is what version 1 of the events called the total: every line's value
    added up, whatever its unit; kept (its column is NOT NULL in databases set up before schema
    7) but never shown. ``gbp_total`` is the document's total."""

    name = "documents"
    tables = ("documents", "document_lines")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS documents ("
                " tenant TEXT NOT NULL, reference TEXT NOT NULL, kind TEXT NOT NULL,"
                " rule TEXT NOT NULL, revision INTEGER NOT NULL,"
                f" issued_at {t['TS']} NOT NULL, revised_at {t['TS']} NOT NULL,"
                " actor TEXT NOT NULL, total TEXT NOT NULL, status TEXT NOT NULL,"
                " cancelled_by TEXT, cancel_reason TEXT, gbp_total TEXT,"
                " PRIMARY KEY (tenant, reference))"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS document_lines ("
                " tenant TEXT NOT NULL, reference TEXT NOT NULL, line INTEGER NOT NULL,"
                " revision INTEGER NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                " measure TEXT NOT NULL, rule TEXT NOT NULL, can_go_stale INTEGER NOT NULL,"
                " used_version INTEGER NOT NULL, used_value TEXT NOT NULL,"
                " used_kind TEXT NOT NULL, run_type TEXT NOT NULL,"
                f" run_number {t['BIGINT']} NOT NULL,"
                " source_sha256 TEXT, now_version INTEGER, now_value TEXT,"
                " stale INTEGER NOT NULL, unit TEXT, now_run_type TEXT,"
                f" now_run_number {t['BIGINT']}, PRIMARY KEY (tenant, reference, line))"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS document_lines_by_period ON document_lines"
                " (tenant, settlement_date, subject, settlement_period)"
            )
            # The stale lines alone, in the order the stale documents are answered (a partial
            # index: it holds a stale line's key only, so stays small and needs no sort). It
            # replaces (tenant, stale, reference), which held every line.
            tx.execute("DROP INDEX IF EXISTS document_lines_stale")
            tx.execute(
                "CREATE INDEX IF NOT EXISTS document_lines_stale_by_reference ON document_lines"
                " (tenant, reference, line) WHERE stale = 1"
            )
            # Run numbers of values from no settlement run are instants (schema 6).
            database.widen_to_bigint(tx, "document_lines", "run_number")
            _add_units(database, tx)
            _add_now_runs(database, tx)

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM documents")
        tx.execute("DELETE FROM document_lines")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        touched: set[PeriodKey] = set()
        for _nid, event in events:
            if isinstance(event, SettlementPeriod.PeriodEvent):
                touched.add(
                    (event.tenant, event.subject, event.settlement_date, event.settlement_period)
                )
            elif isinstance(event, Document.Issued | Document.Reissued):
                self._revise(tx, event)
            elif isinstance(event, Document.Cancelled):
                tx.execute(
                    "UPDATE documents SET status = 'cancelled', cancelled_by = ?,"
                    " cancel_reason = ? WHERE tenant = ? AND reference = ?",
                    (event.actor, event.reason, event.tenant, event.reference),
                )
        if touched:
            _refresh(tx, touched)

    def _revise(self, tx: Tx, event: Document.Issued | Document.Reissued) -> None:
        key = (event.tenant, event.reference)
        every_line, gbp_total = _totals(event.lines)
        if isinstance(event, Document.Issued):
            tx.execute(
                "INSERT INTO documents (tenant, reference, kind, rule, revision, issued_at,"
                " revised_at, actor, total, status, gbp_total)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'issued', ?)",
                (*key, event.kind, event.rule, 1, event.timestamp, event.timestamp,
                 event.actor, every_line, gbp_total),
            )  # fmt: skip
            rule = event.rule
        else:
            tx.execute(
                "UPDATE documents SET revision = ?, revised_at = ?, actor = ?, total = ?,"
                " gbp_total = ? WHERE tenant = ? AND reference = ?",
                (event.revision, event.timestamp, event.actor, every_line, gbp_total, *key),
            )
            row = tx.execute(
                "SELECT rule FROM documents WHERE tenant = ? AND reference = ?", key
            ).fetchone()
            assert row is not None, "a document is issued before it is re-issued"
            rule = str(row[0])
        tx.execute("DELETE FROM document_lines WHERE tenant = ? AND reference = ?", key)
        can_go_stale = int(Rule.recorded(rule).can_go_stale)
        tx.insert_rows(
            "document_lines",
            _LINE_COLUMNS,
            [
                _line_row(event, n, data, rule, can_go_stale)
                for n, data in enumerate(event.lines, start=1)
            ],
        )


def _line_row(
    event: Document.Issued | Document.Reissued,
    n: int,
    data: dict[str, Any],
    rule: str,
    can_go_stale: int,
) -> tuple[Any, ...]:
    # Issued from the views as they stood: what it used is what its rule chose then.
    return (
        event.tenant,
        event.reference,
        n,
        event.revision,
        data["subject"],
        date.fromisoformat(data["settlement_date"]),
        data["settlement_period"],
        data["measure"],
        rule,
        can_go_stale,
        data["version"],
        data["value"],
        data["kind"],
        data["run_type"],
        data["run_number"],
        data["source_sha256"],
        data["version"],
        data["value"],
        0,
        line_unit(data),
        data["run_type"],
        data["run_number"],
    )


def _totals(lines: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    """A revision's lines (as its event holds them) added up: every value whatever its unit
    (the legacy ``total`` column), and the GBP lines (None when there is none)."""
    every_line = sum((Decimal(d["value"]) for d in lines), Decimal(0))
    gbp = total_in_gbp(
        totals_by_measure((d["measure"], line_unit(d), Decimal(d["value"])) for d in lines)
    )
    return str(every_line), None if gbp is None else str(gbp)


def _add_units(database: Database, tx: Tx) -> None:
    """Give lines and documents recorded before schema 7 their units and GBP totals: each
    line the unit its measure has (as :func:`line_unit` gives a line of version 1 of the
    events, so a rebuild gives the same), each document the total of its GBP lines. Once,
    when the columns are added."""
    if not database.has_column(tx, "document_lines", "unit"):
        tx.execute("ALTER TABLE document_lines ADD COLUMN unit TEXT")
        measures = tx.execute("SELECT DISTINCT measure FROM document_lines").fetchall()
        for (measure,) in measures:
            unit = measure_unit(str(measure))
            if unit is not None:
                tx.execute("UPDATE document_lines SET unit = ? WHERE measure = ?", (unit, measure))
    if not database.has_column(tx, "documents", "gbp_total"):
        tx.execute("ALTER TABLE documents ADD COLUMN gbp_total TEXT")
        # A document at a time: its lines are bounded, the documents are not.
        for key in tx.execute("SELECT tenant, reference FROM documents").fetchall():
            lines = tx.execute(
                "SELECT measure, unit, used_value FROM document_lines"
                " WHERE tenant = ? AND reference = ?",
                tuple(key),
            ).fetchall()
            gbp = total_in_gbp(totals_by_measure((m, u, Decimal(v)) for m, u, v in lines))
            tx.execute(
                "UPDATE documents SET gbp_total = ? WHERE tenant = ? AND reference = ?",
                (None if gbp is None else str(gbp), *key),
            )


def _add_now_runs(database: Database, tx: Tx) -> None:
    """Give lines recorded before schema 7 the run of the version their rule chooses now:
    that version's, from the period views (as a refresh would). Once, when added."""
    if database.has_column(tx, "document_lines", "now_run_type"):
        return
    tx.execute("ALTER TABLE document_lines ADD COLUMN now_run_type TEXT")
    tx.execute(f"ALTER TABLE document_lines ADD COLUMN now_run_number {database.types['BIGINT']}")
    for column in ("run_type", "run_number"):
        tx.execute(
            f"UPDATE document_lines SET now_{column} = (SELECT v.{column} FROM period_versions v"
            " WHERE v.tenant = document_lines.tenant AND v.subject = document_lines.subject"
            " AND v.settlement_date = document_lines.settlement_date"
            " AND v.settlement_period = document_lines.settlement_period"
            " AND v.version = document_lines.now_version) WHERE now_version IS NOT NULL"
        )


def _refresh(tx: Tx, touched: set[PeriodKey]) -> None:
    """Work out again, for each line on a touched period, what its rule would choose now."""
    days = {(tenant, day) for tenant, _, day, _ in touched}
    for tenant, day in days:
        lines = tx.execute(
            "SELECT reference, line, subject, settlement_period, measure, rule, used_version"
            " FROM document_lines WHERE tenant = ? AND settlement_date = ?"
            " AND can_go_stale = 1",
            (tenant, day),
        ).fetchall()
        by_period: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
        for line in lines:
            if (tenant, line[2], day, int(line[3])) in touched:
                by_period.setdefault((str(line[2]), int(line[3])), []).append(line)
        for (subject, period), on_period in by_period.items():
            _refresh_period(tx, (tenant, subject, day, period), on_period)


def _refresh_period(tx: Tx, key: PeriodKey, lines: Iterable[tuple[Any, ...]]) -> None:
    versions = period_versions(tx, *key)
    pinned = standing(tx, *key).pinned
    tenant = key[0]
    for reference, line, _subject, _period, measure, rule, used_version in lines:
        chosen = Rule.recorded(str(rule)).choose(versions, pinned=pinned)
        now_version = None if chosen is None else chosen.version
        value = None if chosen is None else chosen.values.get(str(measure))
        tx.execute(
            "UPDATE document_lines SET now_version = ?, now_value = ?, stale = ?,"
            " now_run_type = ?, now_run_number = ? WHERE tenant = ? AND reference = ? AND line = ?",
            (
                now_version,
                None if value is None else str(value),
                int(now_version != int(used_version)),
                None if chosen is None else chosen.run_type,
                None if chosen is None else chosen.run_number,
                tenant,
                reference,
                line,
            ),
        )


def standing(
    tx: Tx, tenant: str, subject: str, day: date, period: int, *, as_of: datetime | None = None
) -> Standing:
    """The interventions standing on a period now (or as they stood at ``as_of``)."""
    sql = (
        "SELECT action, pinned_version, actor, reason, recorded_at FROM period_interventions"
        " WHERE tenant = ? AND subject = ? AND settlement_date = ? AND settlement_period = ?"
    )
    params: list[Any] = [tenant, subject, day, period]
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(as_of)
    rows = tx.execute(sql + " ORDER BY version", params).fetchall()
    return standing_after((r[0], r[1], r[2], r[3], as_datetime(r[4])) for r in rows)


def _document_row(r: Sequence[Any]) -> DocumentRow:
    return DocumentRow(
        reference=r[0],
        kind=r[1],
        rule=r[2],
        revision=int(r[3]),
        issued_at=as_datetime(r[4]),
        revised_at=as_datetime(r[5]),
        actor=r[6],
        total=None if r[7] is None else Decimal(r[7]),
        status=r[8],
        cancelled_by=r[9],
        cancel_reason=r[10],
    )


_DOCUMENT_COLUMNS = (
    "reference",
    "kind",
    "rule",
    "revision",
    "issued_at",
    "revised_at",
    "actor",
    "gbp_total",
    "status",
    "cancelled_by",
    "cancel_reason",
)
# A line as queries read it: every column but the tenant, the revision and the rule's own.
_LINE_QUERY_COLUMNS = tuple(
    c for c in _LINE_COLUMNS if c not in ("tenant", "revision", "rule", "can_go_stale")
)
_DOCUMENT_QUERY = f"SELECT {', '.join(_DOCUMENT_COLUMNS)} FROM documents"
_LINE_QUERY = f"SELECT {', '.join(_LINE_QUERY_COLUMNS)} FROM document_lines"


def _line(r: Sequence[Any]) -> LineRow:
    return LineRow(
        reference=r[0],
        line=int(r[1]),
        subject=r[2],
        settlement_date=as_date(r[3]),
        settlement_period=int(r[4]),
        measure=r[5],
        used_version=int(r[6]),
        used_value=Decimal(r[7]),
        used_kind=r[8],
        run_type=r[9],
        run_number=int(r[10]),
        source_sha256=r[11],
        now_version=None if r[12] is None else int(r[12]),
        now_value=None if r[13] is None else Decimal(r[13]),
        stale=bool(r[14]),
        unit=r[15],
        now_run_type=r[16],
        now_run_number=None if r[17] is None else int(r[17]),
    )


def list_documents(
    tx: Tx,
    tenant: str,
    *,
    status: str | None = None,
    kind: str | None = None,
    after: str | None = None,
    limit: int,
) -> list[DocumentRow]:
    """Up to ``limit`` of the tenant's documents by reference, after ``after`` if given, with
    the status and kind given (read on the primary key, in its order)."""
    sql, params = f"{_DOCUMENT_QUERY} WHERE tenant = ?", [tenant]
    for column, value in (("status", status), ("kind", kind)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if after is not None:
        sql += " AND reference > ?"
        params.append(after)
    rows = tx.execute(sql + " ORDER BY reference LIMIT ?", (*params, limit)).fetchall()
    return [_document_row(r) for r in rows]


def document(tx: Tx, tenant: str, reference: str) -> tuple[DocumentRow, list[LineRow]] | None:
    """A document and the lines of its current revision; None when the tenant has none."""
    row = tx.execute(
        f"{_DOCUMENT_QUERY} WHERE tenant = ? AND reference = ?", (tenant, reference)
    ).fetchone()
    if row is None:
        return None
    lines = tx.execute(
        f"{_LINE_QUERY} WHERE tenant = ? AND reference = ? ORDER BY line", (tenant, reference)
    ).fetchall()
    return _document_row(row), [_line(r) for r in lines]


# Stale lines in document order, read from their partial index (``stale = 1`` is a literal,
# not a parameter, so that both backends see that the index's predicate holds).
_STALE_LINE_QUERY = (
    "SELECT reference, subject, settlement_date, settlement_period, measure, used_version,"
    " used_value, now_version, now_value, unit, run_type, run_number, now_run_type,"
    " now_run_number FROM document_lines WHERE tenant = ? AND stale = 1 ORDER BY reference, line"
)
_HEADS_PER_QUERY = 500  # references per IN list (SQLite before 3.32 allows 999 parameters)


def stale_lines(tx: Tx, tenant: str) -> list[tuple[DocumentRow, list[StaleLineRow]]]:
    """Documents in force (not cancelled) with a stale line, and those lines, by reference.

    Each query reads one table by its key, so the plan never depends on the tables' statistics
    (a join or ``IN (subquery)`` can be planned, before ``ANALYZE``, as a nested loop reading
    every stale line once per document): the stale lines from their partial index, then the
    heads of their documents by primary key. A cancelled document's lines are dropped here,
    and so is a line whose value would not change (another version, the same value): nothing
    to re-issue for, so a document with only such lines is not stale."""
    found: dict[str, list[StaleLineRow]] = {}
    for r in tx.execute(_STALE_LINE_QUERY, (tenant,)).fetchall():
        line = _stale_line_row(r)
        if line.now_value is not None and line.now_value == line.used_value:
            continue
        lines = found.get(r[0])
        if lines is None:
            lines = found[r[0]] = []
        lines.append(line)
    heads = _heads_in_force(tx, tenant, list(found))
    return [(heads[reference], lines) for reference, lines in found.items() if reference in heads]


def _stale_line_row(r: Sequence[Any]) -> StaleLineRow:
    return StaleLineRow(
        r[1],
        as_date(r[2]),
        r[3],
        r[4],
        r[5],
        Decimal(r[6]),
        r[7],
        None if r[8] is None else Decimal(r[8]),
        r[9],
        r[10],
        int(r[11]),
        r[12],
        None if r[13] is None else int(r[13]),
    )


def _heads_in_force(tx: Tx, tenant: str, references: list[str]) -> dict[str, DocumentRow]:
    """The documents named (those not cancelled), by reference."""
    heads: dict[str, DocumentRow] = {}
    for start in range(0, len(references), _HEADS_PER_QUERY):
        chunk = references[start : start + _HEADS_PER_QUERY]
        rows = tx.execute(
            f"{_DOCUMENT_QUERY} WHERE tenant = ? AND status = 'issued'"
            f" AND reference IN ({', '.join(['?'] * len(chunk))})",
            (tenant, *chunk),
        ).fetchall()
        heads.update((str(r[0]), _document_row(r)) for r in rows)
    return heads


def lines_using(
    tx: Tx, tenant: str, subject: str, settlement_date: date, settlement_period: int
) -> list[tuple[DocumentRow, LineRow]]:
    """Every document line (current revisions, cancelled documents included) on a period."""
    rows = tx.execute(
        f"{_LINE_QUERY} WHERE tenant = ? AND settlement_date = ? AND subject = ?"
        " AND settlement_period = ? ORDER BY reference, line",
        (tenant, settlement_date, subject, settlement_period),
    ).fetchall()
    found = []
    for r in rows:
        line = _line(r)
        head = tx.execute(
            f"{_DOCUMENT_QUERY} WHERE tenant = ? AND reference = ?", (tenant, line.reference)
        ).fetchone()
        assert head is not None, "a line belongs to a document"
        found.append((_document_row(head), line))
    return found
