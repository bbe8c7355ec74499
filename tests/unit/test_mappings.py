"""Identity mappings in the domain: the terms a mapping accepts, its dates (both ends
inclusive), the clashes it refuses and the messages that name them, and its history of events
(created, ended, corrected; never edited in place)."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, Mapper, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import InvalidIdentifier, InvalidSettlementPeriod, MissingAttribution
from ledger.domain.mappings import (
    Mapping,
    MappingRefused,
    MappingTerms,
    Validity,
    check_no_clash,
    mapping_id,
)
from ledger.domain.plain_text import InvalidText
from ledger.service.application import DateAsISO, ViewSafeTranscoder

TENANT = "acme"
MPAN = "mpan:2499999999991"
OTHER_MPAN = "mpan:1200000000011"
BMU = "bmu:T_PTY00001-1"
JAN = date(2026, 1, 1)
MAR_31 = date(2026, 3, 31)
APR = date(2026, 4, 1)
BY = ("ops.lead", "new supply contract")


def create(
    kind: str = "customer",
    internal: str = "C-100",
    market: str = MPAN,
    validity: Validity | None = None,
    others: list[MappingTerms] | None = None,
) -> Mapping:
    return Mapping.create(
        TENANT, kind, internal, market, validity or Validity(JAN), *BY, others=others or []
    )


def terms(
    kind: str = "customer",
    internal: str = "C-100",
    market: str = MPAN,
    start: date = JAN,
    end: date | None = None,
) -> MappingTerms:
    return MappingTerms(uuid4(), kind, internal, market, Validity(start, end))


def events_of(mapping: Mapping) -> list[Mapping.MappingEvent]:
    """The mapping's new events, in order."""
    events = mapping.collect_events()
    assert all(isinstance(e, Mapping.MappingEvent) for e in events)
    return [e for e in events if isinstance(e, Mapping.MappingEvent)]


# --- terms -------------------------------------------------------------------------------------


def test_a_mapping_holds_its_terms_written_canonically() -> None:
    mapping = create(kind=" Meter ", internal=" M-7 ", market="BMU:t_pty00001-1")
    assert (mapping.kind, mapping.internal_id, mapping.market_id) == ("meter", "M-7", BMU)
    assert (mapping.valid_from, mapping.valid_to, mapping.tenant) == (JAN, None, TENANT)
    assert mapping.id == mapping_id(TENANT, "meter", "M-7", BMU, JAN)


def test_the_id_is_the_same_for_the_same_values_and_differs_otherwise() -> None:
    assert create().id == create().id
    assert create().id != create(internal="C-101").id
    assert create().id != create(validity=Validity(APR)).id
    assert mapping_id(TENANT, "customer", "C-100", MPAN, JAN, 2) != create().id
    other_tenant = mapping_id("other", "customer", "C-100", MPAN, JAN)
    assert other_tenant != create().id


@pytest.mark.parametrize(
    ("kind", "internal", "market", "error", "words"),
    [
        ("contract", "C-100", MPAN, MappingRefused, "not a kind of internal id"),
        ("customer", "C-100", "system", InvalidIdentifier, "system is not a market id"),
        ("customer", "C-100", "mpan:2499999999990", InvalidIdentifier, "check digit"),
        ("customer", "C-100", "gsp:_A", InvalidIdentifier, "is not a subject"),
        ("customer", "C-1\x00", MPAN, InvalidText, "control character"),
        ("customer", "C" * 101, MPAN, InvalidText, "at most 100"),
        ("customer", "  ", MPAN, InvalidText, "is empty"),
    ],
)
def test_terms_that_are_not_ids_are_refused(
    kind: str, internal: str, market: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        create(kind=kind, internal=internal, market=market)


def test_a_mapping_names_the_person_and_a_reason() -> None:
    with pytest.raises(MissingAttribution, match="needs the person who made it and a reason"):
        Mapping.create(TENANT, "customer", "C-100", MPAN, Validity(JAN), "ops.lead", " ")
    with pytest.raises(MissingAttribution):
        create().end(MAR_31, "", "moved out")


# --- dates -------------------------------------------------------------------------------------


def test_the_last_date_is_on_or_after_the_first() -> None:
    assert Validity(JAN, JAN).holds_on(JAN)  # a one-day mapping
    with pytest.raises(MappingRefused, match=r"cannot end \(2025-12-31\) before it starts"):
        Validity(JAN, date(2025, 12, 31))


def test_dates_outside_the_settlement_era_are_refused() -> None:
    with pytest.raises(InvalidSettlementPeriod, match="outside the settlement era"):
        Validity(date(1999, 1, 1))
    with pytest.raises(InvalidSettlementPeriod, match="outside the settlement era"):
        Validity(JAN, date(2100, 1, 1))


def test_both_ends_are_inclusive() -> None:
    quarter = Validity(JAN, MAR_31)
    assert quarter.holds_on(JAN) and quarter.holds_on(MAR_31)
    assert not quarter.holds_on(APR) and not quarter.holds_on(date(2025, 12, 31))
    assert Validity(APR).holds_on(date(2099, 12, 31))
    # One ending on the 31st and the next starting on the 1st meet without overlapping.
    assert not quarter.overlaps(Validity(APR))
    assert quarter.overlaps(Validity(MAR_31))
    assert str(quarter) == "from 2026-01-01 to 2026-03-31"
    assert str(Validity(APR)) == "from 2026-04-01 on"


_DAY0 = date(2026, 1, 1)
_validity = st.builds(
    lambda start, length: Validity(
        _DAY0 + timedelta(start), None if length is None else _DAY0 + timedelta(start + length)
    ),
    st.integers(0, 20),
    st.none() | st.integers(0, 10),
)


@given(_validity, _validity)
def test_two_ranges_overlap_exactly_when_some_date_is_in_both(a: Validity, b: Validity) -> None:
    days = [_DAY0 + timedelta(n) for n in range(40)]
    assert a.overlaps(b) == b.overlaps(a) == any(a.holds_on(d) and b.holds_on(d) for d in days)


# --- clashes -----------------------------------------------------------------------------------


def test_an_internal_id_maps_to_one_market_id_of_a_kind_at_a_time() -> None:
    standing = terms(market=OTHER_MPAN, end=MAR_31)
    with pytest.raises(MappingRefused) as refused:
        create(others=[standing])
    message = str(refused.value)
    assert message.startswith(f"customer C-100 cannot map to {MPAN} from 2026-01-01 on: ")
    assert f"customer C-100 maps to {OTHER_MPAN} from 2026-01-01 to 2026-03-31" in message
    assert f"(mapping {standing.mapping_id})" in message
    assert "a customer id maps to one MPAN at a time; end or correct that mapping" in message


def test_a_market_id_maps_to_one_internal_id_of_a_kind_at_a_time() -> None:
    standing = terms(internal="C-200", start=date(2026, 2, 1))
    with pytest.raises(MappingRefused) as refused:
        create(validity=Validity(JAN, date(2026, 2, 1)), others=[standing])
    message = str(refused.value)
    assert message.startswith(f"{MPAN} cannot map to customer C-100 from 2026-01-01 to ")
    assert f"customer C-200 maps to {MPAN} from 2026-02-01 on (mapping " in message
    assert "a market id maps to one customer id at a time" in message


def test_the_same_mapping_again_is_refused_naming_the_one_that_holds() -> None:
    standing = terms()
    with pytest.raises(MappingRefused, match=r"maps to mpan:2499999999991 from 2026-01-01 on "):
        create(validity=Validity(APR), others=[standing])
    with pytest.raises(MappingRefused, match="correct that mapping rather than adding another"):
        create(others=[standing])


@pytest.mark.parametrize(
    "standing",
    [
        terms(market=OTHER_MPAN, end=MAR_31, start=JAN - timedelta(days=90)),  # ended before
        terms(market=BMU),  # another market kind: an MPAN and a BM Unit
        terms(kind="site", internal="S-1"),  # another kind: a customer and a site of one MPAN
        terms(kind="site", internal="C-100", market=OTHER_MPAN),  # a site named like the customer
        terms(internal="C-200", market=OTHER_MPAN),  # nothing in common
    ],
)
def test_mappings_that_do_not_clash(standing: MappingTerms) -> None:
    mapping = create(validity=Validity(APR), others=[standing])
    assert mapping.market_id == MPAN


def test_adjacent_mappings_of_one_market_id_do_not_clash() -> None:
    before = terms(internal="C-200", end=MAR_31)
    assert create(validity=Validity(APR), others=[before]).valid_from == APR
    with pytest.raises(MappingRefused):
        create(validity=Validity(MAR_31), others=[before])


def test_a_mapping_never_clashes_with_its_own_earlier_terms() -> None:
    mapping = create()
    check_no_clash(mapping.terms, [mapping.terms])
    mapping.correct(*BY, valid_from=APR, others=[mapping.terms])
    assert mapping.valid_from == APR


# --- ending and correcting ---------------------------------------------------------------------


def test_ending_sets_the_last_date_and_only_ever_brings_it_earlier() -> None:
    mapping = create()
    mapping.end(date(2026, 6, 30), *BY)
    mapping.end(MAR_31, "ops.lead", "contract ended early")
    assert mapping.validity == Validity(JAN, MAR_31)
    with pytest.raises(MappingRefused, match="already ends on 2026-03-31: ending it on 2026-03-31"):
        mapping.end(MAR_31, *BY)
    with pytest.raises(MappingRefused, match="to move its end later, correct it"):
        mapping.end(APR, *BY)
    with pytest.raises(MappingRefused, match="before it starts"):
        mapping.end(date(2025, 12, 31), *BY)
    events = events_of(mapping)
    assert [type(e) for e in events] == [Mapping.Created, Mapping.Ended, Mapping.Ended]
    assert [e.valid_to for e in events] == [None, date(2026, 6, 30), MAR_31]
    assert events[2].reason == "contract ended early"


def test_a_correction_keeps_the_earlier_terms_in_the_history() -> None:
    mapping = create(validity=Validity(JAN, MAR_31))
    mapping.correct("ops.lead", "wrong MPAN keyed", market=OTHER_MPAN)
    mapping.correct("ops.lead", "contract renewed", valid_to=None)
    assert (mapping.market_id, mapping.validity) == (OTHER_MPAN, Validity(JAN))
    created, moved, reopened = events_of(mapping)
    assert (created.market_id, created.valid_to) == (MPAN, MAR_31)
    assert isinstance(moved, Mapping.Corrected) and (moved.market_id, moved.valid_to) == (
        OTHER_MPAN,
        MAR_31,
    )
    assert (reopened.valid_to, reopened.reason) == (None, "contract renewed")
    assert {e.originator_id for e in (created, moved, reopened)} == {mapping.id}


def test_a_correction_that_changes_nothing_or_clashes_is_refused() -> None:
    mapping = create()
    with pytest.raises(MappingRefused, match="changes nothing: it already maps customer C-100"):
        mapping.correct(*BY, market=MPAN, valid_from=JAN)
    taken = terms(internal="C-200", market=OTHER_MPAN)
    with pytest.raises(MappingRefused, match=f"{OTHER_MPAN} cannot map to customer C-100"):
        mapping.correct(*BY, market=OTHER_MPAN, others=[taken])
    with pytest.raises(MappingRefused, match="before it starts"):
        mapping.correct(*BY, valid_from=APR, valid_to=MAR_31)
    assert len(events_of(mapping)) == 1  # only its creation


def test_the_events_keep_their_dates_through_the_ledgers_transcoder() -> None:
    # The library's JSON transcoder cannot encode a date; the ledger registers DateAsISO.
    transcoder = ViewSafeTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    mapper: Mapper[UUID] = Mapper(transcoder=transcoder)
    mapping = create(validity=Validity(JAN, MAR_31))
    mapping.correct(*BY, valid_to=None)
    for event in events_of(mapping):
        again = mapper.to_domain_event(mapper.to_stored_event(event))
        assert again == event
        assert isinstance(again, Mapping.MappingEvent) and type(again.valid_from) is date
