"""Identity mappings over a real ledger: add, end, correct and list them; clashes refused with
nothing written; which internal ids hold on a date; the market ids a file names that have no
mapping; the internal ids in a period's view; views rebuilt to the same rows.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import BMU_SUBJECT, DAY, PARTY_SUBJECT, count_events, write_report
from ledger.domain.errors import InvalidIdentifier, MissingAttribution
from ledger.domain.mappings import MappingRefused, mapping_id
from ledger.domain.plain_text import InvalidText
from ledger.service.application import NotFound
from ledger.service.mappings import MappingView, internal_ids, unmapped, unmapped_by_date
from ledger.service.read_models import InternalId
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
MPAN = "mpan:2499999999991"
OTHER_MPAN = "mpan:1200000000011"
JAN = date(2026, 1, 1)
MAR_31 = date(2026, 3, 31)
APR = date(2026, 4, 1)
BY = {"actor": "ops.lead", "reason": "supply contract signed"}


def add(
    runtime: LedgerRuntime,
    internal: str = "C-100",
    market: str = MPAN,
    valid_from: date = JAN,
    valid_to: date | None = None,
    *,
    kind: str = "customer",
    tenant: str = TENANT,
) -> MappingView:
    return runtime.mappings.add(
        kind=kind,
        internal=internal,
        market=market,
        valid_from=valid_from,
        valid_to=valid_to,
        tenant=tenant,
        **BY,
    )


def rows(runtime: LedgerRuntime, table: str) -> list[tuple[Any, ...]]:
    with runtime.database.transaction(write=False) as tx:
        return tx.execute(f"SELECT * FROM {table} ORDER BY mapping_id").fetchall()


def test_add_end_correct_and_the_history_of_each(runtime: LedgerRuntime) -> None:
    added = add(runtime)
    assert added.mapping_id == str(mapping_id(TENANT, "customer", "C-100", MPAN, JAN))
    assert (added.kind, added.internal_id, added.market_id) == ("customer", "C-100", MPAN)
    assert (added.valid_from, added.valid_to, added.status, added.version) == (
        JAN,
        None,
        "open",
        1,
    )
    ended = runtime.mappings.end(
        added.mapping_id, valid_to=MAR_31, actor="ops.lead", reason="moved out", tenant=TENANT
    )
    assert (ended.valid_to, ended.status, ended.last_change) == (MAR_31, "ended", "ended")
    corrected = runtime.mappings.correct(
        added.mapping_id,
        market=OTHER_MPAN,
        valid_from=date(2026, 2, 1),
        actor="ops.lead",
        reason="wrong MPAN keyed",
        tenant=TENANT,
    )
    assert (corrected.market_id, corrected.valid_from, corrected.valid_to) == (
        OTHER_MPAN,
        date(2026, 2, 1),
        MAR_31,
    )
    # Never edited in place: every earlier term is in the history, with who and why.
    history = [(c.version, c.change, c.market_id, c.valid_from, c.valid_to, c.reason)
               for c in corrected.history]  # fmt: skip
    assert history == [
        (1, "created", MPAN, JAN, None, "supply contract signed"),
        (2, "ended", MPAN, JAN, MAR_31, "moved out"),
        (3, "corrected", OTHER_MPAN, date(2026, 2, 1), MAR_31, "wrong MPAN keyed"),
    ]
    assert runtime.mappings.get(added.mapping_id, tenant=TENANT) == corrected
    assert corrected.created_at == added.created_at < corrected.updated_at
    reopened = runtime.mappings.correct(
        added.mapping_id, valid_to=None, actor="ops.lead", reason="renewed", tenant=TENANT
    )
    assert (reopened.valid_to, reopened.status, reopened.version) == (None, "open", 4)
    assert count_events(runtime) == 4


def test_list_with_filters_and_validity_on_a_date(runtime: LedgerRuntime) -> None:
    first = add(runtime, "C-100", MPAN, JAN, MAR_31)
    second = add(runtime, "C-200", MPAN, APR)
    site = add(runtime, "S-1", MPAN, JAN, kind="site")
    asset = add(runtime, "A-9", BMU_SUBJECT, JAN, kind="asset")
    add(runtime, "C-100", MPAN, JAN, tenant="other")  # another tenant's, never seen

    def listed(**filters: Any) -> list[str]:
        found = runtime.mappings.list(tenant=TENANT, **filters)
        return [m.mapping_id for m in found.mappings]

    everything = listed()
    assert everything == [m.mapping_id for m in (asset, first, second, site)]
    # Both ends inclusive: the last day of one mapping and the first of the next.
    assert listed(on=MAR_31, market=MPAN) == [first.mapping_id, site.mapping_id]
    assert listed(on=APR, market=MPAN) == [second.mapping_id, site.mapping_id]
    assert listed(on=date(2025, 12, 31)) == []
    assert listed(internal="C-100") == [first.mapping_id]
    assert listed(kind="asset") == [asset.mapping_id]
    assert listed(market=" BMU:t_pty00001-1 ") == [asset.mapping_id]  # written canonically
    assert runtime.mappings.list(tenant=TENANT, on=APR).on == APR


def test_clashes_are_refused_with_nothing_written(runtime: LedgerRuntime) -> None:
    held = add(runtime, "C-100", MPAN, JAN, MAR_31)
    add(runtime, "C-300", OTHER_MPAN, JAN)
    before = count_events(runtime)
    with pytest.raises(MappingRefused) as second_customer:
        add(runtime, "C-200", MPAN, date(2026, 3, 1))
    assert f"{MPAN} cannot map to customer C-200 from 2026-03-01 on" in str(second_customer.value)
    assert f"(mapping {held.mapping_id})" in str(second_customer.value)
    with pytest.raises(MappingRefused, match="a customer id maps to one MPAN at a time"):
        add(runtime, "C-100", "mpan:1500000000033", date(2026, 2, 1))
    with pytest.raises(MappingRefused, match="rather than adding another"):
        add(runtime, "C-100", MPAN, MAR_31)
    with pytest.raises(MappingRefused, match=f"{OTHER_MPAN} cannot map to customer C-100"):
        runtime.mappings.correct(
            held.mapping_id, market=OTHER_MPAN, tenant=TENANT, actor="a", reason="b"
        )
    with pytest.raises(MappingRefused, match="would not end it sooner"):
        runtime.mappings.end(held.mapping_id, valid_to=APR, tenant=TENANT, actor="a", reason="b")
    with pytest.raises(MissingAttribution):
        runtime.mappings.end(held.mapping_id, valid_to=JAN, tenant=TENANT, actor="a", reason="")
    with pytest.raises(InvalidIdentifier, match="check digit"):
        add(runtime, "C-400", "mpan:2499999999990")
    with pytest.raises(InvalidText):
        add(runtime, "C-\x1b[31m", "mpan:1500000000033")
    assert count_events(runtime) == before
    # Adjacent dates do not clash: the next customer of the MPAN from the day after.
    assert add(runtime, "C-200", MPAN, APR).valid_from == APR


def test_a_tenant_sees_and_changes_only_its_own_mappings(runtime: LedgerRuntime) -> None:
    theirs = add(runtime, tenant="other")
    with pytest.raises(NotFound, match="tenant 'acme' has no mapping"):
        runtime.mappings.get(theirs.mapping_id, tenant=TENANT)
    with pytest.raises(NotFound, match="has no mapping"):
        runtime.mappings.end(theirs.mapping_id, valid_to=MAR_31, tenant=TENANT, **BY)
    with pytest.raises(NotFound, match="has no mapping 'not-an-id'"):
        runtime.mappings.get("not-an-id", tenant=TENANT)
    # The same terms in another tenant are no clash, and land on another mapping.
    mine = add(runtime)
    assert mine.mapping_id != theirs.mapping_id


def test_the_same_terms_again_after_a_correction_get_the_next_id(runtime: LedgerRuntime) -> None:
    first = add(runtime, "C-100", MPAN, JAN)
    runtime.mappings.correct(
        first.mapping_id, valid_from=APR, tenant=TENANT, actor="ops.lead", reason="misread"
    )
    again = add(runtime, "C-100", MPAN, JAN, MAR_31)
    assert again.mapping_id == str(mapping_id(TENANT, "customer", "C-100", MPAN, JAN, 2))
    assert [m.valid_from for m in runtime.mappings.list(tenant=TENANT).mappings] == [JAN, APR]


def test_internal_ids_and_unmapped_market_ids_on_a_date(runtime: LedgerRuntime) -> None:
    add(runtime, "C-100", MPAN, JAN, MAR_31)
    add(runtime, "S-1", MPAN, JAN, kind="site")
    add(runtime, "A-9", BMU_SUBJECT, APR, kind="asset")
    add(runtime, "P-1", PARTY_SUBJECT, JAN, tenant="other")
    named = [MPAN, BMU_SUBJECT, PARTY_SUBJECT, "system"]
    with runtime.database.transaction(write=False) as tx:
        assert unmapped(tx, TENANT, named, MAR_31) == {BMU_SUBJECT, PARTY_SUBJECT}
        assert unmapped(tx, TENANT, named, APR) == {PARTY_SUBJECT}
        assert unmapped(tx, TENANT, [], APR) == set()
        assert unmapped(tx, "other", named, APR) == {MPAN, BMU_SUBJECT}
        assert unmapped_by_date(tx, TENANT, {MAR_31: named, APR: [MPAN, BMU_SUBJECT]}) == {
            MAR_31: {BMU_SUBJECT, PARTY_SUBJECT}
        }
        assert internal_ids(tx, TENANT, named, MAR_31) == {
            MPAN: [InternalId(kind="customer", id="C-100"), InternalId(kind="site", id="S-1")]
        }
        assert internal_ids(tx, TENANT, named, APR) == {
            MPAN: [InternalId(kind="site", id="S-1")],
            BMU_SUBJECT: [InternalId(kind="asset", id="A-9")],
        }


def test_many_market_ids_in_one_question(runtime: LedgerRuntime) -> None:
    # More ids than SQLite allows parameters in one statement (999 before 3.32).
    add(runtime, "A-1", "bmu:T_UNIT-0500", JAN, kind="asset")
    named = [f"bmu:T_UNIT-{n:04d}" for n in range(2500)]
    with runtime.database.transaction(write=False) as tx:
        missing = unmapped(tx, TENANT, named, JAN)
    assert missing == set(named) - {"bmu:T_UNIT-0500"}


def test_the_period_view_names_the_internal_ids(runtime: LedgerRuntime, files: Path) -> None:
    for run in ("II", "SF"):
        assert runtime.ingest(write_report(files, run_type=run).path, tenant=TENANT).status == (
            "accepted"
        )
    unmapped_view = runtime.period(BMU_SUBJECT, DAY, 1, tenant=TENANT)
    assert [v.internal_ids for v in unmapped_view.versions] == [[], []]
    before = datetime.now(UTC)
    asset = add(runtime, "A-9", BMU_SUBJECT, date(2026, 4, 1), DAY, kind="asset")
    add(runtime, "S-4", BMU_SUBJECT, DAY, kind="site")
    add(runtime, "S-3", BMU_SUBJECT, APR, date(2026, 4, 30), kind="site")  # ended before DAY

    view = runtime.period(BMU_SUBJECT, DAY, 1, tenant=TENANT)
    expected = [InternalId(kind="asset", id="A-9"), InternalId(kind="site", id="S-4")]
    assert [v.internal_ids for v in view.versions] == [expected, expected]
    assert view.best is not None and view.best.internal_ids == expected
    as_json = view.model_dump(mode="json")
    assert as_json["versions"][0]["internal_ids"] == [
        {"kind": "asset", "id": "A-9"},
        {"kind": "site", "id": "S-4"},
    ]
    # As the mappings stood at an instant: none before they were added.
    assert (
        runtime.period(BMU_SUBJECT, DAY, 1, tenant=TENANT, as_of=before).versions[1]
        == (unmapped_view.versions[1])
    )
    after_adding = datetime.now(UTC)
    runtime.mappings.end(asset.mapping_id, valid_to=date(2026, 4, 30), tenant=TENANT, **BY)
    assert [i.id for i in runtime.period(BMU_SUBJECT, DAY, 1, tenant=TENANT).versions[0]
            .internal_ids or []] == ["S-4"]  # fmt: skip
    known_then = runtime.period(BMU_SUBJECT, DAY, 1, tenant=TENANT, as_of=after_adding)
    assert known_then.versions[0].internal_ids == expected
    # The system has no internal id, and another tenant's mappings are not this tenant's.
    assert runtime.period("system", DAY, 1, tenant=TENANT).versions[0].internal_ids == []
    add(runtime, "P-1", PARTY_SUBJECT, DAY, tenant="other")
    assert runtime.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT).versions[0].internal_ids == []


def test_views_rebuild_to_the_same_rows(runtime: LedgerRuntime) -> None:
    first = add(runtime, "C-100", MPAN, JAN)
    runtime.mappings.end(first.mapping_id, valid_to=MAR_31, tenant=TENANT, **BY)
    runtime.mappings.correct(
        first.mapping_id, market=OTHER_MPAN, tenant=TENANT, actor="ops.lead", reason="misread"
    )
    add(runtime, "C-200", MPAN, APR)
    live = {t: rows(runtime, t) for t in ("identity_mappings", "identity_mapping_history")}
    assert len(live["identity_mappings"]) == 2 and len(live["identity_mapping_history"]) == 4
    verified = runtime.verify()
    assert verified.equal and verified.views["identity_mappings"].equal
    assert runtime.rebuild(["identity_mappings"]) == 4
    assert {t: rows(runtime, t) for t in live} == live


def test_a_view_row_changed_behind_the_ledgers_back_is_found(runtime: LedgerRuntime) -> None:
    add(runtime)
    with runtime.database.transaction() as tx:
        tx.execute("UPDATE identity_mappings SET valid_to = valid_from")
    found = runtime.verify()
    assert not found.equal
    table = found.views["identity_mappings"].tables["identity_mappings"]
    assert (table.only_rebuilt, table.only_live) == (1, 1)


def test_mapping_events_are_in_the_tenants_feed(runtime: LedgerRuntime) -> None:
    added = add(runtime)
    runtime.mappings.end(added.mapping_id, valid_to=MAR_31, tenant=TENANT, **BY)
    add(runtime, tenant="other")
    page = runtime.feed(tenant=TENANT)
    assert [e.type for e in page.events] == ["Mapping.Created", "Mapping.Ended"]
    payload = page.events[1].payload
    assert (payload["market_id"], payload["valid_from"], payload["valid_to"]) == (
        MPAN,
        "2026-01-01",
        "2026-03-31",
    )
    assert str(page.events[0].aggregate_id) == added.mapping_id


def race(runtimes: list[LedgerRuntime], market: str, customers: list[str]) -> list[object]:
    """Each runtime maps its customer to ``market`` at the same moment, in a thread of its
    own: what each got back (the mapping, or the refusal)."""
    start = threading.Barrier(len(runtimes))
    outcomes: list[object] = []

    def map_customer(runtime: LedgerRuntime, customer: str) -> None:
        start.wait()
        try:
            outcomes.append(add(runtime, customer, market))
        except MappingRefused as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=map_customer, args=(runtime, customer))
        for runtime, customer in zip(runtimes, customers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_writers_cannot_both_map_one_mpan(
    open_runtime: Callable[[], LedgerRuntime],
) -> None:
    """Two people, each in their own process's runtime, map two customers to one MPAN at the
    same moment: one mapping is recorded, the other refused against it (the clash is decided
    under the event store's write lock). A few rounds, each on another MPAN."""
    runtimes = [open_runtime(), open_runtime()]
    for core in ("2499999999991", "1200000000011", "1200000000020", "1500000000033"):
        market = f"mpan:{core}"
        outcomes = race(runtimes, market, [f"C-{core}-1", f"C-{core}-2"])
        assert sorted(type(o).__name__ for o in outcomes) == ["MappingRefused", "MappingView"]
        listed = runtimes[0].mappings.list(tenant=TENANT, market=market).mappings
        assert len(listed) == 1
