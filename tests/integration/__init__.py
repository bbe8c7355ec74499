"""Integration tests: the whole ledger on SQLite and PostgreSQL."""
