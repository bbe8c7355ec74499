"""Readers and writers for the market's data flows (IDD pipe files and the flows built on them)."""
