"""Event-sourced settlement ledger for the GB electricity market."""

__version__ = "0.1.0"
