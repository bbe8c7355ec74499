"""What validation said of each received file: every warning its reader kept, how many it
found, and the checks it applied.

``flows`` shows a file's first warnings; ``flow_warnings`` holds every one the file's
``Validated`` event kept (up to the reader's bound, ``LEDGER_MAX_WARNINGS``, then a line per
kind of those counted beyond it), numbered from 1 in the order found, so that they are read a
page at a time (:func:`warnings_after`). ``flow_validations`` holds, per validated file, how
many warnings were found, how many are listed, and its checks (null for a file validated
before the ledger recorded them). A view of its own: a database upgraded with
files already ingested builds it from the whole log, where a table added to ``flows`` would
start empty at that view's position.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from ledger.adapters.storage import Database, Tx
from ledger.domain.aggregates import ReceivedFile


class ValidationRow(NamedTuple):
    """A row of ``flow_validations``: what validation said of one file."""

    warning_count: int  # every warning found, kept or not
    listed: int  # the rows of flow_warnings: warnings kept, then one per kind not kept
    checks: list[dict[str, str]] | None  # check, outcome, detail; None: not recorded


class FlowValidationProjection:
    """Builds ``flow_validations`` and ``flow_warnings`` from ``Validated`` events."""

    name = "flow_validation"
    tables = ("flow_validations", "flow_warnings")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS flow_validations ("
                f" flow_id TEXT PRIMARY KEY, warning_count {t['BIGINT']} NOT NULL,"
                " listed INTEGER NOT NULL, checks_json TEXT)"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS flow_warnings ("
                " flow_id TEXT NOT NULL, number INTEGER NOT NULL, warning TEXT NOT NULL,"
                " PRIMARY KEY (flow_id, number))"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM flow_validations")
        tx.execute("DELETE FROM flow_warnings")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(event, ReceivedFile.Validated):
                self._validated(tx, event)

    @staticmethod
    def _validated(tx: Tx, event: ReceivedFile.Validated) -> None:
        key = str(event.originator_id)
        checks = None if event.checks is None else json.dumps(event.checks)
        tx.execute(
            "INSERT INTO flow_validations (flow_id, warning_count, listed, checks_json)"
            " VALUES (?, ?, ?, ?)",
            (key, event.warning_count, len(event.warnings), checks),
        )
        if event.warnings:
            tx.insert_rows(
                "flow_warnings",
                ("flow_id", "number", "warning"),
                ((key, number, text) for number, text in enumerate(event.warnings, start=1)),
            )


def validation_of(tx: Tx, flow_id: str) -> ValidationRow | None:
    """What validation said of a file (None when it was never validated)."""
    found = tx.execute(
        "SELECT warning_count, listed, checks_json FROM flow_validations WHERE flow_id = ?",
        (flow_id,),
    ).fetchone()
    if found is None:
        return None
    count, listed, checks = found
    return ValidationRow(int(count), int(listed), None if checks is None else json.loads(checks))


def warnings_after(tx: Tx, flow_id: str, after: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` of a file's warnings numbered after ``after``, in the order found."""
    rows = tx.execute(
        "SELECT number, warning FROM flow_warnings WHERE flow_id = ? AND number > ?"
        " ORDER BY number LIMIT ?",
        (flow_id, after, limit),
    ).fetchall()
    return [(int(number), str(text)) for number, text in rows]
