"""Every revision of every document: when, who and why, its GBP total, and its lines as issued.

``documents`` and ``document_lines`` (:mod:`projections.documents`) hold each document's current
revision and what its rule would choose now; this view keeps every revision, never changed once
written, so an earlier revision is read by key, never by replaying the document's events:
``document_revisions`` one row per revision, ``document_revision_lines`` its lines. A view of
its own (schema 7), so that on a database with documents already it starts from the beginning
of the log and takes in every revision issued before it existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.documents import Document, total_in_gbp, totals_by_measure
from projections.documents import line_unit

_LINE_COLUMNS = (
    "tenant",
    "reference",
    "revision",
    "line",
    "subject",
    "settlement_date",
    "settlement_period",
    "measure",
    "value",
    "unit",
    "version",
    "kind",
    "run_type",
    "run_number",
    "source_sha256",
)


@dataclass(frozen=True)
class RevisionRow:
    """A row of ``document_revisions``: one revision of a document."""

    revision: int
    recorded_at: datetime
    actor: str
    reason: str | None  # none for the first revision (issuing it)
    total: Decimal | None  # its GBP lines added up; none without one
    lines: int


@dataclass(frozen=True)
class RevisionLineRow:
    """A row of ``document_revision_lines``: a line of one revision, as issued (named as
    :class:`projections.documents.LineRow` names what a line used)."""

    line: int
    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    used_value: Decimal
    unit: str | None
    used_version: int
    used_kind: str
    run_type: str
    run_number: int
    source_sha256: str | None


class DocumentRevisionsProjection:
    """Builds ``document_revisions`` and ``document_revision_lines`` from document events."""

    name = "document_revisions"
    tables = ("document_revisions", "document_revision_lines")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS document_revisions ("
                " tenant TEXT NOT NULL, reference TEXT NOT NULL, revision INTEGER NOT NULL,"
                f" recorded_at {t['TS']} NOT NULL, actor TEXT NOT NULL, reason TEXT,"
                " total TEXT, lines INTEGER NOT NULL,"
                " PRIMARY KEY (tenant, reference, revision))"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS document_revision_lines ("
                " tenant TEXT NOT NULL, reference TEXT NOT NULL, revision INTEGER NOT NULL,"
                " line INTEGER NOT NULL, subject TEXT NOT NULL,"
                f" settlement_date {t['DATE']} NOT NULL, settlement_period INTEGER NOT NULL,"
                " measure TEXT NOT NULL, value TEXT NOT NULL, unit TEXT,"
                " version INTEGER NOT NULL, kind TEXT NOT NULL, run_type TEXT NOT NULL,"
                f" run_number {t['BIGINT']} NOT NULL, source_sha256 TEXT,"
                " PRIMARY KEY (tenant, reference, revision, line))"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM document_revisions")
        tx.execute("DELETE FROM document_revision_lines")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(event, Document.Issued | Document.Reissued):
                self._record(tx, event)

    def _record(self, tx: Tx, event: Document.Issued | Document.Reissued) -> None:
        key = (event.tenant, event.reference, event.revision)
        units = [line_unit(data) for data in event.lines]
        total = total_in_gbp(
            totals_by_measure(
                (d["measure"], unit, Decimal(d["value"]))
                for d, unit in zip(event.lines, units, strict=True)
            )
        )
        reason = event.reason if isinstance(event, Document.Reissued) else None
        tx.execute(
            "INSERT INTO document_revisions (tenant, reference, revision, recorded_at, actor,"
            " reason, total, lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, event.timestamp, event.actor, reason,
             None if total is None else str(total), len(event.lines)),
        )  # fmt: skip
        tx.insert_rows(
            "document_revision_lines",
            _LINE_COLUMNS,
            [
                (
                    *key,
                    n,
                    d["subject"],
                    date.fromisoformat(d["settlement_date"]),
                    d["settlement_period"],
                    d["measure"],
                    d["value"],
                    unit,
                    d["version"],
                    d["kind"],
                    d["run_type"],
                    d["run_number"],
                    d["source_sha256"],
                )
                for n, (d, unit) in enumerate(zip(event.lines, units, strict=True), start=1)
            ],
        )


def revisions(tx: Tx, tenant: str, reference: str) -> list[RevisionRow]:
    """Every revision of a document, first to last (none when the view has none yet)."""
    rows = tx.execute(
        "SELECT revision, recorded_at, actor, reason, total, lines FROM document_revisions"
        " WHERE tenant = ? AND reference = ? ORDER BY revision",
        (tenant, reference),
    ).fetchall()
    return [
        RevisionRow(
            revision=int(r[0]),
            recorded_at=as_datetime(r[1]),
            actor=r[2],
            reason=r[3],
            total=None if r[4] is None else Decimal(r[4]),
            lines=int(r[5]),
        )
        for r in rows
    ]


def revision_lines(tx: Tx, tenant: str, reference: str, revision: int) -> list[RevisionLineRow]:
    """The lines of one revision of a document, in order (none when the view has none)."""
    rows = tx.execute(
        f"SELECT {', '.join(_LINE_COLUMNS[3:])} FROM document_revision_lines"
        " WHERE tenant = ? AND reference = ? AND revision = ? ORDER BY line",
        (tenant, reference, revision),
    ).fetchall()
    return [
        RevisionLineRow(
            line=int(r[0]),
            subject=r[1],
            settlement_date=as_date(r[2]),
            settlement_period=int(r[3]),
            measure=r[4],
            used_value=Decimal(r[5]),
            unit=r[6],
            used_version=int(r[7]),
            used_kind=r[8],
            run_type=r[9],
            run_number=int(r[10]),
            source_sha256=r[11],
        )
        for r in rows
    ]
