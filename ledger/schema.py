"""Tables the write side keeps beside the event store: the original bytes of every flow."""

from __future__ import annotations

from ledger.storage import Database


def create_ledger_tables(database: Database) -> None:
    """Create the raw payload store (content-addressed, per tenant) if it is not there."""
    t = database.types
    with database.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS raw_payloads ("
            " tenant TEXT NOT NULL, sha256 TEXT NOT NULL,"
            f" size {t['BIGINT']} NOT NULL, chunks INTEGER NOT NULL,"
            " PRIMARY KEY (tenant, sha256))"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS raw_payload_chunks ("
            " tenant TEXT NOT NULL, sha256 TEXT NOT NULL, seq INTEGER NOT NULL,"
            f" data {t['BYTES']} NOT NULL,"
            " PRIMARY KEY (tenant, sha256, seq))"
        )
