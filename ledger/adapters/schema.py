"""The ledger's schema: set up once per database, serialised between processes, then skipped.

Processes that start together must not all run DDL at once (PostgreSQL fails such DDL with
``tuple concurrently updated``), and a reader must not need the write lock just to start: so
start-up first looks (read-only) for the schema marker, and only when it is missing sets the
schema up under :meth:`Database.schema_lock`, writing the marker last.
"""

from __future__ import annotations

import sqlite3

import psycopg

from ledger.adapters.storage import Database

# Raise when a release adds tables: every process then runs the (idempotent) set-up once more.
# 2: the views' positions moved to the library's tracking table. 3: the run index beside the
# events table (a run delivered again adds no version). 4: documents and their lines; the
# typed interventions' columns. 5: the stale document lines' partial index. 6: run numbers
# widened to 64 bits (instants as YYYYMMDDHHMMSS); the exception queue, identity mappings and
# meter readings. 7: each document line's unit and the run of the version its rule chooses now,
# each document's GBP total (columns added to document_lines and documents, filled for the
# documents already there); the document_revisions view (every revision, filled from the log); the
# flow_validation view (every warning a file's reader kept, and how many it found).
SCHEMA_VERSION = 7


def schema_ready(database: Database) -> bool:
    """Whether the database already holds this version's schema (a read-only look)."""
    try:
        with database.transaction(write=False) as tx:
            row = tx.execute("SELECT max(version) FROM ledger_schema").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False
        raise
    except psycopg.errors.UndefinedTable:
        return False
    return row is not None and row[0] is not None and int(row[0]) >= SCHEMA_VERSION


def mark_schema_ready(database: Database) -> None:
    """Record that this version's schema is complete (the last step of set-up)."""
    with database.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        tx.execute("DELETE FROM ledger_schema")
        tx.execute("INSERT INTO ledger_schema (version) VALUES (?)", (SCHEMA_VERSION,))
