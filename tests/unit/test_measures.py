"""Measures keep exact decimal text through events: no float, no re-encoding drift."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.measures import Measures, MeasuresAsText

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=5, max_value=10**9)


def test_values_are_decimals_in_recorded_order() -> None:
    m = Measures({"system_buy_price": Decimal("96.79"), "so_bm_cashflow": Decimal("-0.5")})
    assert list(m) == ["system_buy_price", "so_bm_cashflow"]
    assert m["system_buy_price"] == Decimal("96.79")
    assert isinstance(m["so_bm_cashflow"], Decimal)
    assert m == {"system_buy_price": Decimal("96.79"), "so_bm_cashflow": Decimal("-0.5")}
    assert m.as_text() == {"system_buy_price": "96.79", "so_bm_cashflow": "-0.5"}


def test_stored_form_is_one_object_of_decimal_strings() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(MeasuresAsText())
    data = transcoder.encode({"values": Measures({"a": Decimal("12.50")})})
    assert data == b'{"values":{"_type_":"measures","_data_":{"a":"12.50"}}}'


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), decimals, max_size=12))
def test_transcoding_round_trip_is_exact(values: dict[str, Decimal]) -> None:
    transcoder = JSONTranscoder()
    transcoder.register(MeasuresAsText())
    decoded = transcoder.decode(transcoder.encode(Measures(values)))
    assert isinstance(decoded, Measures)
    assert decoded == values
    assert decoded.as_text() == {k: str(v) for k, v in values.items()}


@pytest.mark.parametrize(
    "values",
    [
        {"system_buy_price": "75.13", "unidentified_5": "-17298.664"},
        {'a "quoted" name': "1", "x\\y": "2"},
        {"naïve": "3", "1st": "4"},
        {},
    ],
)
def test_as_json_is_what_json_would_write(values: dict[str, str]) -> None:
    measures = Measures.from_text(values)
    assert measures.as_json() == json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(measures.as_json()) == values


def test_the_digest_is_the_one_stored_digests_were_made_with() -> None:
    """Run digests are kept in the run index: a file re-sent after an upgrade must digest
    to what its first delivery stored, or it would count as conflicting values."""
    texts = {"system_sell_price": "40.52322", "bm_unit_cashflow": "-1234.5", "period_fpn": "0"}
    expected = "c4c55f910b2b35bff4df787bdb8bd54b"  # as the released code digested them
    assert Measures.from_text(texts).digest() == expected
    reordered = dict(reversed(list(texts.items())))
    assert Measures.from_text(reordered).digest() == expected


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), decimals, max_size=12))
def test_measures_read_from_their_json_are_the_measures_written(
    values: dict[str, Decimal],
) -> None:
    """As a period's values cross from a parse in another process: JSON and digest."""
    written = Measures(values)
    read = Measures.from_json(written.as_json(), written.digest())
    assert read == written
    assert read.as_text() == written.as_text()
    assert Measures.from_json(written.as_json()).digest() == written.digest()
