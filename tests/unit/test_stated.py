"""What a file stated of itself as it was read: one settlement date or subject, or none."""

from __future__ import annotations

import pickle
from datetime import date

from ledger.flows.canonical import Stated


def test_one_date_and_subject_are_kept_several_are_none() -> None:
    stated = Stated()
    assert (stated.settlement_date, stated.subject) == (None, None)
    stated.saw_date(date(2026, 5, 1))
    stated.saw_date(date(2026, 5, 1))
    stated.saw_subject("mpan:1000000000012")
    assert (stated.settlement_date, stated.subject) == (date(2026, 5, 1), "mpan:1000000000012")
    for day in range(2, 30):
        stated.saw_date(date(2026, 5, day))
    stated.saw_subject("mpan:1000000000029")
    stated.saw_subject("mpan:1000000000012")
    assert (stated.settlement_date, stated.subject) == (None, None)
    assert len(stated._dates) == 2  # bounded, whatever the file names


def test_it_crosses_from_a_reading_process_as_it_is() -> None:
    stated = Stated()
    stated.flow, stated.bsc_party_id = "S0141", "PTY00001"
    stated.saw_subject("party:PTY00001")
    stated.saw_date(date(2026, 5, 1))
    taken = Stated()
    taken.take(pickle.loads(pickle.dumps(stated)))
    assert (taken.flow, taken.bsc_party_id, taken.subject, taken.settlement_date) == (
        "S0141",
        "PTY00001",
        "party:PTY00001",
        date(2026, 5, 1),
    )
