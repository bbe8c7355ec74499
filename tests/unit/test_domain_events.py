"""Settlement-period events and their schema versions: version 1 events still load.

Schema version 2 of the values-recorded events added ``maturity``, ``attributes`` and
``unconfirmed``; events stored before that (version 1, no ``class_version`` in their state)
are upcast on read: the maturity derived from the run type, the rest empty.

Stored events name their classes by topic: topics from before a class moved or was renamed
(``ledger.domain``, ``Flow`` for ``ReceivedFile``) still load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.adapters.storage import Database
from ledger.domain.aggregates import ReceivedFile, SettlementPeriod, settlement_period_id
from ledger.domain.exception_queue import Category, ExceptionCase, Impact, Problem
from ledger.service.application import Ledger
from ledger.service.runtime import LedgerRuntime

TENANT = "t"
SUBJECT = "party:PTY00001"
DAY = date(2026, 5, 1)
PERIOD = 5
KEY = settlement_period_id(TENANT, SUBJECT, DAY, PERIOD)
V2_ONLY = ("maturity", "attributes", "unconfirmed")


@pytest.fixture
def database_path(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def ledger(database_path: str) -> Iterator[Ledger]:
    database = Database(database_path)
    app = Ledger(database)
    try:
        yield app
    finally:
        app.close()
        database.close()


def values_recorded(
    run_type: str = "SF", *, version: int = 1, maturity: str = "settlement"
) -> SettlementPeriod.ValuesRecordedFields:
    fields: dict[str, Any] = dict(
        originator_id=KEY,
        originator_version=version,
        timestamp=datetime(2026, 5, 20, 9, 30, tzinfo=UTC),
        tenant=TENANT,
        subject=SUBJECT,
        settlement_date=DAY,
        settlement_period=PERIOD,
        run_type=run_type,
        run_number=1,
        maturity=maturity,
        flow="S0142",
        file_creation_time=datetime(2026, 5, 18, 6, 0, tzinfo=UTC),
        values={"bm_unit_cashflow": Decimal("-12.50"), "non_delivery_charge": Decimal("0")},
        attributes={"note": "kept"},
        unconfirmed={"SP7": ["x"]},
        source_sha256="ab" * 32,
        record_position=42,
    )
    if version == 1:
        return SettlementPeriod.FirstValuesRecorded(
            originator_topic=get_topic(SettlementPeriod), **fields
        )
    return SettlementPeriod.ValuesRecorded(**fields)


def as_version_1(stored: StoredEvent) -> StoredEvent:
    """The same event as it was stored before schema version 2."""
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    for name in V2_ONLY:
        del state[name]
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )


def test_values_recorded_events_are_schema_version_2(ledger: Ledger) -> None:
    event = values_recorded()
    stored = ledger.mapper.to_stored_event(event)
    assert stored.topic == get_topic(SettlementPeriod.FirstValuesRecorded)
    assert json.loads(stored.state)["class_version"] == 2
    assert ledger.mapper.to_domain_event(stored) == event


@pytest.mark.parametrize(
    ("run_type", "maturity"), [("II", "indicative"), ("SF", "settlement"), ("RF", "final")]
)
@pytest.mark.parametrize("version", [1, 2], ids=["first", "later"])
def test_version_1_events_are_upcast(
    ledger: Ledger, run_type: str, maturity: str, version: int
) -> None:
    current = values_recorded(run_type, version=version, maturity=maturity)
    old = as_version_1(ledger.mapper.to_stored_event(current))
    assert not set(V2_ONLY) & set(json.loads(old.state))

    event = ledger.mapper.to_domain_event(old)
    assert type(event) is type(current)
    assert event.maturity == maturity
    assert event.attributes == {}
    assert event.unconfirmed == {}
    # Everything version 1 had is unchanged.
    for name in ("run_type", "run_number", "values", "file_creation_time", "source_sha256"):
        assert getattr(event, name) == getattr(current, name)
    assert (event.originator_id, event.originator_version) == (KEY, version)


def test_an_aggregate_whose_first_event_is_version_1_still_loads(
    ledger: Ledger, database_path: str
) -> None:
    first = as_version_1(ledger.mapper.to_stored_event(values_recorded("SF")))
    later = ledger.mapper.to_stored_event(values_recorded("R1", version=2))
    ledger.recorder.insert_events([first, later])

    period = ledger.settlement_period(TENANT, SUBJECT, DAY, PERIOD)
    assert period.version == 2
    assert [(v.version, v.run_type) for v in period.versions] == [(1, "SF"), (2, "R1")]
    assert period.versions[0].values == {
        "bm_unit_cashflow": Decimal("-12.50"),
        "non_delivery_charge": Decimal("0"),
    }
    history = ledger.event_history(KEY)
    assert [type(e).__name__ for e in history] == ["FirstValuesRecorded", "ValuesRecorded"]
    assert history[0].maturity == "settlement"

    # A correction on top of it is stored as usual.
    version = ledger.apply_correction(
        TENANT,
        SUBJECT,
        DAY,
        PERIOD,
        supersedes=1,
        values={"bm_unit_cashflow": Decimal("-10.00")},
        reason="r",
        actor="a",
    )
    assert version == 3

    # The views read the old event too.
    runtime = LedgerRuntime(database_path)
    try:
        # Written behind the views' back: a reader says so rather than waiting.
        assert runtime.period(SUBJECT, DAY, PERIOD, tenant=TENANT).views.up_to_date is False
        runtime.recover()
        view = runtime.period(SUBJECT, DAY, PERIOD, tenant=TENANT)
        assert view.views.up_to_date is True
    finally:
        runtime.close()
    assert [(v.version, v.maturity, v.kind) for v in view.versions] == [
        (1, "settlement", "run"),
        (2, "settlement", "run"),
        (3, "settlement", "correction"),
    ]
    assert view.versions[0].attributes == {}
    assert view.best is not None and view.best.version == 2


def test_events_stored_before_the_domain_became_a_package_still_load(ledger: Ledger) -> None:
    """Stored events name their class by topic; the topics of ``ledger.domain`` resolve."""
    current = ledger.mapper.to_stored_event(values_recorded("SF"))
    assert current.topic == "ledger.domain.aggregates:SettlementPeriod.FirstValuesRecorded"
    old = StoredEvent(
        originator_id=current.originator_id,
        originator_version=current.originator_version,
        topic="ledger.domain:SettlementPeriod.FirstValuesRecorded",
        state=current.state.replace(
            b'"ledger.domain.aggregates:SettlementPeriod"', b'"ledger.domain:SettlementPeriod"'
        ),
    )
    assert b'"ledger.domain:SettlementPeriod"' in old.state
    event = ledger.mapper.to_domain_event(old)
    assert type(event) is SettlementPeriod.FirstValuesRecorded
    period = event.mutate(None)
    assert isinstance(period, SettlementPeriod)


def received_file_histories() -> list[list[Any]]:
    """The events of an accepted file (received twice) and of a rejected one."""
    accepted = ReceivedFile.receive(TENANT, "cd" * 32, 10, "cli", "S0142_accepted.txt")
    accepted.duplicate("api", "again.txt")
    accepted.validate(
        flow="S0142",
        flow_version="001",
        settlement_date=DAY,
        run_type="SF",
        run_number=1,
        bsc_party_id="PTY00001",
        file_creation_time=datetime(2026, 5, 18, 6, 0, tzinfo=UTC),
        record_count=3,
    )
    accepted.interpret(periods=1, events=3, daily_values=[], unplaced_records=[])
    rejected = ReceivedFile.receive(TENANT, "ef" * 32, 10, "cli", "S0142_rejected.txt")
    rejected.reject(["the trailer's record count is wrong"], flow="S0142")
    return [list(accepted.collect_events()), list(rejected.collect_events())]


@pytest.mark.parametrize("old_name", ["ledger.domain:Flow", "ledger.domain.aggregates:Flow"])
def test_received_file_events_stored_under_the_old_name_still_load(
    ledger: Ledger, old_name: str
) -> None:
    """``ReceivedFile`` was called ``Flow``, first in ``ledger.domain``, then in
    ``ledger.domain.aggregates``: events stored under either topic still load."""
    new_name = get_topic(ReceivedFile)
    assert new_name == "ledger.domain.aggregates:ReceivedFile"
    accepted, rejected = received_file_histories()
    for history in (accepted, rejected):
        stored = []
        for current in map(ledger.mapper.to_stored_event, history):
            assert current.topic.startswith(f"{new_name}.")
            old = StoredEvent(
                originator_id=current.originator_id,
                originator_version=current.originator_version,
                topic=current.topic.replace(new_name, old_name, 1),
                # The first event names the aggregate's class too.
                state=current.state.replace(f'"{new_name}"'.encode(), f'"{old_name}"'.encode()),
            )
            event = ledger.mapper.to_domain_event(old)
            assert type(event) is type(history[current.originator_version - 1])
            stored.append(old)
        assert f'"{old_name}"'.encode() in stored[0].state
        ledger.recorder.insert_events(stored)

    loaded = ledger.received_file(accepted[0].originator_id)
    assert isinstance(loaded, ReceivedFile)
    assert (loaded.status, loaded.flow, loaded.receipts, loaded.version) == (
        "accepted",
        "S0142",
        2,
        4,
    )
    assert [type(e).__name__ for e in ledger.event_history(loaded.id)] == [
        "Received",
        "DuplicateReceived",
        "Validated",
        "Interpreted",
    ]
    loaded = ledger.received_file(rejected[0].originator_id)
    assert isinstance(loaded, ReceivedFile)
    assert (loaded.status, loaded.reasons) == ("rejected", ["the trailer's record count is wrong"])


def test_exception_events_stored_before_causes_still_load(ledger: Ledger) -> None:
    """Schema version 2 of an exception's raised and seen-again events added ``cause``."""
    problem = Problem(
        key="rejected-file:x.txt",
        category=Category.REJECTED_FILE,
        impact=Impact.BLOCKS_BILLING,
        message="file x.txt was rejected",
        flow="ab" * 32,
        cause="x.txt: truncated",
    )
    case = ExceptionCase.raised(TENANT, problem)
    case.see_again(replace(problem, flow="cd" * 32))
    old = []
    for event in case.collect_events():
        state = json.loads(ledger.mapper.to_stored_event(event).state)
        assert state.pop("class_version") == 2 and state.pop("cause") == "x.txt: truncated"
        stored = ledger.mapper.to_stored_event(event)
        old.append(
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=json.dumps(state).encode(),
            )
        )
    ledger.recorder.insert_events(old)
    loaded: ExceptionCase = ledger.repository.get(case.id)
    assert isinstance(loaded, ExceptionCase)
    assert (loaded.message, loaded.causes, loaded.flows) == (case.message, [], case.flows)


def validated_as_stored(ledger: Ledger, warnings: list[str]) -> tuple[Any, dict[str, Any]]:
    """A file's Validated event, and its stored state."""
    received = ReceivedFile.receive(TENANT, "cd" * 32, 10, "cli", "f.txt")
    received.validate(
        flow="S0142",
        flow_version="013",
        settlement_date=DAY,
        run_type="SF",
        run_number=2,
        bsc_party_id=None,
        file_creation_time=datetime(2026, 5, 18, 6, 0, tzinfo=UTC),
        record_count=100,
        warnings=warnings,
        warning_count=240,
        checks=[{"check": "envelope", "outcome": "passed", "detail": "AAA and ZZZ"}],
    )
    _, validated = received.collect_events()
    return validated, json.loads(ledger.mapper.to_stored_event(validated).state)


def test_a_validated_event_keeps_every_warning_and_how_many_were_found(ledger: Ledger) -> None:
    warnings = [f"warning {n}" for n in range(240)]
    validated, state = validated_as_stored(ledger, warnings)
    assert (state["class_version"], state["warning_count"], state["warnings"]) == (3, 240, warnings)
    assert state["checks"] == [{"check": "envelope", "outcome": "passed", "detail": "AAA and ZZZ"}]


def test_a_version_2_validated_event_counts_the_warnings_it_listed(ledger: Ledger) -> None:
    """Before version 3 a file kept at most 20 warnings and a line counting the rest: how many
    there were in all is not known, so the count is what the list holds."""
    listed = [*(f"warning {n}" for n in range(20)), "220 further warnings were not listed"]
    validated, state = validated_as_stored(ledger, listed)
    state["class_version"] = 2
    del state["warning_count"], state["checks"]
    stored = ledger.mapper.to_stored_event(validated)
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
    event = ledger.mapper.to_domain_event(old)
    assert isinstance(event, ReceivedFile.Validated)
    assert (event.warnings, event.warning_count, event.checks) == (listed, 21, None)
