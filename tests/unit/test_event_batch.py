"""The bulk encoder writes exactly the bytes the library's mapper would, for any period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from ledger.adapters.event_batch import PeriodEventEncoder
from ledger.adapters.storage import Database
from ledger.domain.aggregates import Delivery, SettlementPeriod
from ledger.domain.measures import Measures
from ledger.flows.saa_i014 import PeriodValues
from ledger.service.application import Ledger

SHARED: dict[str, Any] = {
    "timestamp": datetime(2026, 5, 22, 9, 30, 1, 123456, tzinfo=UTC),
    "tenant": "acme",
    "settlement_date": date(2026, 5, 6),
    "run_type": "SF",
    "run_number": 2,
    "maturity": "settlement",
    "flow": "S0142",
    "file_creation_time": datetime(2026, 5, 22, 3, tzinfo=UTC),
    "source_sha256": "ab" * 32,
}

# What the IDD reader admits: printable ASCII (control characters are refused with the line).
text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|"), max_size=12
)
period_values = st.builds(
    PeriodValues,
    subject=st.sampled_from(["system", "party:BRITGAS", "bmu:T_DRAXX-1", 'party:"Q"']),
    settlement_period=st.integers(1, 50),
    values=st.dictionaries(
        st.from_regex(r"[a-z_]{1,24}", fullmatch=True),
        st.decimals(allow_nan=False, allow_infinity=False, places=5, max_value=10**8),
        max_size=8,
    ),
    attributes=st.dictionaries(st.sampled_from(["price_derivation_code", "x"]), text),
    unconfirmed=st.dictionaries(st.sampled_from(["BP7", "BPI", "SSD"]), st.lists(text)),
    record_position=st.integers(1, 10**7),
)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path: Path = tmp_path_factory.mktemp("batch") / "ledger.db"
    app = Ledger(Database(f"sqlite:///{path}"))
    yield app
    app.close()


def values_fields(key: UUID, version: int, item: PeriodValues) -> dict[str, Any]:
    """The fields of a values event for ``item``, as the mapper would be given them."""
    return dict(
        SHARED,
        originator_id=key,
        originator_version=version,
        subject=item.subject,
        settlement_period=item.settlement_period,
        values=Measures(item.values),
        attributes=item.attributes,
        unconfirmed=item.unconfirmed,
        record_position=item.record_position,
    )


@given(item=period_values, version=st.integers(1, 5))
def test_rows_equal_the_mappers_encoding(ledger: Ledger, item: PeriodValues, version: int) -> None:
    key = uuid4()
    fields = values_fields(key, version, item)
    event: Any
    if version == 1:
        event = SettlementPeriod.FirstValuesRecorded(
            originator_topic=get_topic(SettlementPeriod), **fields
        )
    else:
        event = SettlementPeriod.ValuesRecorded(**fields)
    expected = ledger.mapper.to_stored_event(event)

    row = PeriodEventEncoder(ledger.mapper, SHARED).row(key, version, item)

    assert row == (key, version, expected.topic, expected.state)


def test_decoded_rows_carry_exact_decimals(ledger: Ledger) -> None:
    item = PeriodValues(
        subject="party:BRITGAS",
        settlement_period=3,
        values={"energy_imbalance_cashflow": Decimal("-12.50")},
        attributes={},
        unconfirmed={},
        record_position=57,
    )
    key, version, topic, state = PeriodEventEncoder(ledger.mapper, SHARED).row(uuid4(), 2, item)
    event = ledger.mapper.to_domain_event(StoredEvent(key, version, topic, state))
    assert isinstance(event, SettlementPeriod.ValuesRecorded)
    assert event.values.as_text() == {"energy_imbalance_cashflow": "-12.50"}
    assert event.settlement_date == date(2026, 5, 6)
    assert event.record_position == 57


@given(item=period_values, version=st.integers(2, 5), conflicts_with=st.integers(1, 4))
def test_conflicting_rows_equal_the_mappers_encoding(
    ledger: Ledger, item: PeriodValues, version: int, conflicts_with: int
) -> None:
    key = uuid4()
    event = SettlementPeriod.ConflictingValuesRecorded(
        **values_fields(key, version, item), conflicts_with=conflicts_with
    )
    expected = ledger.mapper.to_stored_event(event)
    encoder = PeriodEventEncoder(ledger.mapper, SHARED)
    row = encoder.conflict_row(key, version, item, conflicts_with)
    assert row == (key, version, expected.topic, expected.state)


@given(item=period_values, version=st.integers(2, 5), confirms=st.integers(1, 4))
def test_further_source_rows_equal_the_mappers_encoding(
    ledger: Ledger, item: PeriodValues, version: int, confirms: int
) -> None:
    key = uuid4()
    event = SettlementPeriod.SourceAdded(
        originator_id=key,
        originator_version=version,
        timestamp=SHARED["timestamp"],
        tenant=SHARED["tenant"],
        subject=item.subject,
        settlement_date=SHARED["settlement_date"],
        settlement_period=item.settlement_period,
        version=confirms,
        flow=SHARED["flow"],
        source_sha256=SHARED["source_sha256"],
        record_position=item.record_position,
        file_creation_time=SHARED["file_creation_time"],
    )
    expected = ledger.mapper.to_stored_event(event)
    row = PeriodEventEncoder(ledger.mapper, SHARED).source_row(key, version, item, confirms)
    assert row == (key, version, expected.topic, expected.state)


@given(
    item=period_values,
    version=st.integers(1, 5),
    outcome=st.sampled_from(list(Delivery)),
    other=st.integers(1, 4),
)
def test_the_event_handed_to_the_views_is_the_one_the_row_decodes_to(
    ledger: Ledger, item: PeriodValues, version: int, outcome: Delivery, other: int
) -> None:
    """Views kept current by the writer see exactly what a catch-up would decode."""
    if outcome is not Delivery.NEW and version == 1:
        version = 2  # a further or conflicting delivery follows the version it names
    encoder = PeriodEventEncoder(ledger.mapper, SHARED)
    row = encoder.encoded(uuid4(), version, item, outcome, other)
    decoded = ledger.mapper.to_domain_event(StoredEvent(*row))
    assert encoder.event(row[0], version, item, outcome, other) == decoded
