"""SAA-I014 field layouts per flow version: completeness, facts from the IDD, units, signs,
the nearest-version policy and its refusals."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from ledger.domain.errors import LedgerError
from ledger.flows.record_layouts import (
    FieldLayout,
    FlowLayout,
    RecordLayout,
    UnknownFlowVersion,
    known_file_types,
    layout_for,
    load_layouts,
)

S0141 = ("S0141008", "S0141009", "S0141010", "S0141011", "S0141012", "S0141013", "S0141014")
S0144 = ("S0144009", "S0144010", "S0144011", "S0144012", "S0144013", "S0144014")
S0142 = ("S0142013",)

# The fact table's coverage: record types, field slots, and the widths of the main records.
COVERAGE: dict[str, tuple[int, int, dict[str, int]]] = {
    "S0141008": (17, 171, {"SRH": 8, "APC": 7, "PPC": 6, "SSD": 67, "DB2": 9, "APD": 10}),
    "S0141009": (30, 246, {"SRH": 8, "APC": 10, "PPC": 8, "SSD": 74, "DB2": 9, "APD": 10}),
    "S0141010": (30, 247, {"SRH": 8, "APC": 10, "PPC": 8, "SSD": 74, "DB2": 9, "APD": 10}),
    "S0141011": (30, 251, {"SRH": 8, "APC": 10, "PPC": 8, "SSD": 74, "DB2": 13, "APD": 10}),
    "S0141012": (30, 252, {"SRH": 8, "APC": 10, "PPC": 8, "SSD": 74, "DB2": 13, "APD": 10}),
    "S0141013": (30, 272, {"SRH": 8, "APC": 12, "PPC": 10, "SSD": 79, "DB2": 13, "APD": 14}),
    "S0141014": (30, 277, {"SRH": 8, "APC": 13, "PPC": 11, "SSD": 80, "DB2": 13, "APD": 14}),
    "S0144009": (28, 188, {"SRH": 8, "AVC": 9, "PVC": 7, "SVD": 37, "DB2": 9, "APV": 4}),
    "S0144010": (28, 188, {"SRH": 8, "AVC": 9, "PVC": 7, "SVD": 37, "DB2": 9, "APV": 4}),
    "S0144011": (28, 192, {"SRH": 8, "AVC": 9, "PVC": 7, "SVD": 37, "DB2": 13, "APV": 4}),
    "S0144012": (28, 193, {"SRH": 8, "AVC": 9, "PVC": 7, "SVD": 37, "DB2": 13, "APV": 4}),
    "S0144013": (28, 198, {"SRH": 8, "AVC": 9, "PVC": 7, "SVD": 42, "DB2": 13, "APV": 4}),
    "S0144014": (28, 203, {"SRH": 8, "AVC": 10, "PVC": 8, "SVD": 43, "DB2": 13, "APV": 4}),
    # 27 body record types plus AAA/ZZZ; 319 body field slots plus 9 + 2.
    "S0142013": (29, 330, {"SRH": 8, "APC": 12, "PPC": 10, "SSD": 79, "DB2": 13, "APD": 14}),
}
UNIT_PERIOD_WIDTHS = {
    **dict(zip(S0141, (15, 16, 17, 17, 18, 25, 27), strict=True)),
    **dict(zip(S0144, (12, 12, 12, 13, 13, 15), strict=True)),
}
ACCEPTANCE_WIDTHS = {**dict.fromkeys(S0141, 8), "S0141008": 5, **dict.fromkeys(S0144, 8)}


def exact(file_type: str) -> FlowLayout:
    layout, warning = layout_for(file_type)
    assert warning is None
    return layout


def record(file_type: str, record_type: str) -> RecordLayout:
    found = exact(file_type).record(record_type)
    assert found is not None, f"{file_type} has no {record_type}"
    return found


def field_at(file_type: str, record_type: str, position: int) -> FieldLayout:
    found = record(file_type, record_type).fields[position - 1]
    assert found.position == position
    return found


# --- Every version is complete --------------------------------------------------------------


def test_known_file_types_are_the_tabled_versions() -> None:
    assert known_file_types() == (*S0141, *S0142, *S0144)


@pytest.mark.parametrize("file_type", known_file_types())
def test_each_version_loads_exactly(file_type: str) -> None:
    layout = exact(file_type)
    assert layout.file_type == file_type
    assert layout.flow == file_type[:5]
    assert layout.version == int(file_type[5:])


@pytest.mark.parametrize("file_type", known_file_types())
def test_positions_run_without_gaps_and_names_are_unique(file_type: str) -> None:
    layout = exact(file_type)
    for record_type, rec in layout.records.items():
        assert rec.record_type == record_type
        assert [f.position for f in rec.fields] == list(range(1, len(rec.fields) + 1))
        assert len(set(rec.names)) == len(rec.names)
        assert all(name.isascii() and name == name.lower() for name in rec.names)
        assert rec.parent is None or rec.parent in layout.records


@pytest.mark.parametrize("file_type", known_file_types())
def test_counts_match_the_coverage_table(file_type: str) -> None:
    record_types, slots, widths = COVERAGE[file_type]
    layout = exact(file_type)
    assert len(layout.records) == record_types
    assert sum(len(r.fields) for r in layout.records.values()) == slots
    for record_type, width in widths.items():
        assert len(record(file_type, record_type).fields) == width, record_type


@pytest.mark.parametrize("file_type", [*S0141, *S0144])
def test_unit_period_and_acceptance_widths(file_type: str) -> None:
    unit_period = "BPD" if file_type in S0141 else "VPD"
    assert len(record(file_type, unit_period).fields) == UNIT_PERIOD_WIDTHS[file_type]
    assert len(record(file_type, "BOA").fields) == ACCEPTANCE_WIDTHS[file_type]


CHANGED = {
    "S0141010": {"BPD"},
    "S0141011": {"DB2"},
    "S0141012": {"BPD"},
    "S0141013": {"APC", "PPC", "SSD", "APD", "BPD"},
    "S0141014": {"APC", "PPC", "SSD", "BPD"},
    "S0144010": set(),
    "S0144011": {"DB2"},
    "S0144012": {"VPD"},
    "S0144013": {"SVD"},
    "S0144014": {"AVC", "PVC", "SVD", "VPD"},
}


@pytest.mark.parametrize("newer", sorted(CHANGED))
def test_only_the_records_the_fact_table_lists_change(newer: str) -> None:
    versions = S0141 if newer in S0141 else S0144
    older = versions[versions.index(newer) - 1]
    before, after = exact(older).records, exact(newer).records
    assert list(before) == list(after)
    changed = {rt for rt in after if after[rt] != before[rt]}
    assert changed == CHANGED[newer]


def test_every_layout_is_packaged_with_the_code() -> None:
    packaged = resources.files("ledger.flows.layouts").joinpath("saa_i014.toml")
    assert packaged.is_file()
    assert "/work/shared" not in packaged.read_text(encoding="utf-8")


# --- Facts from the IDD ---------------------------------------------------------------------


def test_s0141008_daily_charges_end_with_the_so_bm_cashflow() -> None:
    apc = record("S0141008", "APC")
    assert len(apc.fields) == 7
    last = field_at("S0141008", "APC", 7)
    assert (last.item, last.name) == ("N0214", "daily_system_operator_bm_cashflow")


def test_s0141009_replaces_the_so_cashflow_item() -> None:
    seventh = field_at("S0141009", "APC", 7)
    assert (seventh.item, seventh.name) == ("N0592", "daily_system_operator_cashflow")
    assert field_at("S0141008", "SSD", 2).item == "N0213"
    assert field_at("S0141009", "SSD", 2).item == "N0591"


def test_s0141009_inserts_acceptance_time_into_boa() -> None:
    number_008, number_009 = field_at("S0141008", "BOA", 1), field_at("S0141009", "BOA", 1)
    assert (number_008.name, number_008.required) == ("b_o_acceptance_number", True)
    assert (number_009.name, number_009.required) == ("b_o_acceptance_number", False)
    time = field_at("S0141009", "BOA", 2)
    assert (time.item, time.name, time.type, time.required) == (
        "N0242",
        "acceptance_time",
        "datetime",
        True,
    )
    assert field_at("S0141008", "BOA", 2).item == "N0390"
    assert field_at("S0141009", "BOA", 3).item == "N0390"


def test_system_period_data_widths_per_version() -> None:
    widths = {ft: len(record(ft, "SSD").fields) for ft in S0141}
    assert widths == {
        "S0141008": 67,
        "S0141009": 74,
        "S0141010": 74,
        "S0141011": 74,
        "S0141012": 74,
        "S0141013": 79,
        "S0141014": 80,
    }


def test_version_changes_from_the_fact_table() -> None:
    assert record("S0141008", "APD").cardinality == "2"
    assert record("S0141009", "APD").cardinality == "1-2"
    assert exact("S0141008").record("SQH") is None
    assert record("S0141009", "SQH").parent == "SSD"
    absvd = field_at("S0141010", "BPD", 17)
    assert (absvd.item, absvd.required) == ("N0636", True)
    assert field_at("S0141011", "DB2", 11).type == "varchar2(200)"
    assert field_at("S0141011", "DB2", 13).type == "varchar2(20)"
    assert field_at("S0141012", "BPD", 18).item == "N0645"
    assert [f.item for f in record("S0141013", "APD").fields[10:]] == [
        "N0662",
        "N0663",
        "N0655",
        "N0664",
    ]
    assert all(f.required for f in record("S0141013", "APD").fields[10:])
    direct = field_at("S0141014", "BPD", 27)
    assert (direct.item, direct.type) == ("N0676", "decimal(10,3)")


def test_s0144_structure() -> None:
    assert "N0048" not in {f.item for f in record("S0144009", "AVC").fields}
    assert "N0172" not in {f.item for f in record("S0144009", "SVD").fields}
    assert record("S0144009", "APV").cardinality == "1"
    assert exact("S0144009").record("MVR") is None
    assert record("S0144009", "VPD").parent == "SVH"
    assert [f.item for f in record("S0144013", "SVD").fields[37:]] == [
        "N0657",
        "N0658",
        "N0659",
        "N0660",
        "N0661",
    ]


def test_s0142013_system_period_data() -> None:
    price = field_at("S0142013", "SSD", 5)
    assert (price.name, price.item, price.unit, price.scale) == (
        "system_buy_price",
        "N0212",
        "GBP/MWh",
        5,
    )
    assert price.is_decimal
    assert record("S0142013", "SSD").position("system_buy_price") == 5
    assert record("S0142013", "SSD").parent == "SP7"


def test_s0142013_record_widths_and_confirmed_positions() -> None:
    widths = {rt: len(record("S0142013", rt).fields) for rt in ("BP7", "SPI", "BPI", "BPH")}
    assert widths == {"BP7": 25, "SPI": 53, "BPI": 6, "BPH": 8}
    bp7 = record("S0142013", "BP7")
    assert bp7.names[0] == "bm_unit_id"
    assert bp7.position("period_supplier_compensation_cashflow") == 25
    confirmed = {
        ("AAA", 1),
        ("SRH", 1),
        ("SRH", 2),
        ("BPH", 8),
        ("APC", 11),
        ("APC", 12),
        ("SP7", 1),
        ("BP7", 1),
        ("BP7", 22),
        ("BP7", 23),
        ("BP7", 25),
        ("SPI", 1),
        ("SPI", 53),
    }
    layout = exact("S0142013")
    found = {
        (rt, f.position) for rt, r in layout.records.items() for f in r.fields if f.status == "C"
    }
    assert found == confirmed
    assert field_at("S0142013", "SPI", 53).item == "N0659"
    assert field_at("S0142013", "BPH", 8).item == "N0045"


def test_s0142013_statuses_and_unidentified_positions() -> None:
    layout = exact("S0142013")
    fields = [f for r in layout.records.values() for f in r.fields]
    counts = {s: sum(1 for f in fields if f.status == s) for s in ("C", "N", "L", "P", "?")}
    assert counts == {"C": 13, "N": 6, "L": 227, "P": 61, "?": 23}
    unidentified = field_at("S0142013", "SPI", 5)
    assert (unidentified.name, unidentified.item, unidentified.status) == (
        "unidentified_5",
        None,
        "?",
    )
    assert not unidentified.required
    assert field_at("S0142013", "TRA", 1).item is None  # a guessed item is not recorded
    assert all(f.status is None for ft in (*S0141, *S0144) for f in _all_fields(ft))


def _all_fields(file_type: str) -> list[FieldLayout]:
    return [f for r in exact(file_type).records.values() for f in r.fields]


def test_s0142013_tree() -> None:
    parents = {rt: r.parent for rt, r in exact("S0142013").records.items()}
    assert parents["BP7"] == "SP7"
    assert parents["SP7"] == "BPH"
    assert parents["APC"] == "BPH"
    assert parents["BPH"] is None
    assert parents["SPI"] is None
    assert parents["BPI"] == "SPI"
    assert list(exact("S0142013").records)[0] == "AAA"
    assert list(exact("S0142013").records)[-1] == "ZZZ"


# --- Units and signs ------------------------------------------------------------------------


def test_units_follow_the_type() -> None:
    assert field_at("S0141013", "APC", 2).unit == "GBP"
    assert field_at("S0141013", "BPD", 8).unit == "MWh"
    assert field_at("S0141013", "BPD", 11).unit == "factor"  # transmission loss factor
    assert field_at("S0141013", "SSD", 64).unit == "factor"  # loss of load probability
    assert field_at("S0141013", "SRH", 1).unit is None  # a date
    assert field_at("S0141013", "SSD", 68).unit is None  # exchange rate, 6 places


def test_units_corrected_by_name_where_the_rule_is_wrong() -> None:
    assert field_at("S0141014", "BPD", 27).unit == "GBP"  # a cashflow typed (10,3)
    assert field_at("S0144014", "VPD", 15).unit == "GBP"
    assert field_at("S0141013", "MD2", 3).unit == "GBP/MWh"  # market index price, 2 places
    assert field_at("S0141013", "SSD", 61).unit == "GBP/MWh"  # replacement price
    assert field_at("S0141013", "SSD", 77).unit == "GBP/MWh"  # supplier sourcing cost
    assert field_at("S0142013", "SPI", 53).unit == "GBP/MWh"
    assert field_at("S0141013", "FPN", 2).unit == "MW"  # a spot level
    assert field_at("S0141013", "APB", 4).unit == "percent"
    assert field_at("S0141013", "SSD", 65).unit == "MW"  # de-rated margin, 7 places
    assert field_at("S0141013", "SQH", 4).unit is None  # TERRE clearing price: not stated


def test_scale_and_decimal_kinds() -> None:
    rate = field_at("S0141013", "RUE", 1)
    assert (rate.type, rate.scale, rate.is_decimal, rate.unit) == ("number(4,1)", 1, True, None)
    elbow = field_at("S0141013", "RUE", 2)
    assert (elbow.scale, elbow.is_decimal) == (0, True)
    period = field_at("S0141013", "SPH", 1)
    assert (period.type, period.scale, period.is_decimal) == ("integer(2)", None, False)
    untyped = field_at("S0142013", "SPI", 5)
    assert (untyped.type, untyped.scale, untyped.is_decimal, untyped.unit) == (
        "decimal",
        None,
        True,
        None,
    )


def test_signs_only_where_a_source_states_them() -> None:
    for file_type in ("S0141013", "S0142013"):
        vlp, supplier = field_at(file_type, "APC", 11), field_at(file_type, "APC", 12)
        assert (vlp.name, vlp.sign) == ("daily_virtual_lead_party_compensation_cashflow", "debit")
        assert (supplier.name, supplier.sign) == ("daily_supplier_compensation_cashflow", "credit")
    signed = {
        (ft, rt, f.position)
        for ft in known_file_types()
        for rt, r in exact(ft).records.items()
        for f in r.fields
        if f.sign is not None
    }
    assert signed == {
        (ft, "APC", pos) for ft in ("S0141013", "S0141014", "S0142013") for pos in (11, 12)
    }


# --- The API --------------------------------------------------------------------------------


def test_position_of_an_unknown_field_names_the_record() -> None:
    with pytest.raises(KeyError, match="APC"):
        record("S0141013", "APC").position("no_such_field")


def test_layouts_are_immutable() -> None:
    layout = exact("S0141013")
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.version = 14  # type: ignore[misc]
    with pytest.raises(TypeError):
        layout.records["XXX"] = record("S0141013", "APC")  # type: ignore[index]
    assert layout.record("XXX") is None


# --- Versions without a table ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_type", "used"),
    [
        ("S0142014", "S0142013"),
        ("S0142099", "S0142013"),
        ("S0141015", "S0141014"),
        ("S0144015", "S0144014"),
    ],
)
def test_a_later_version_is_read_with_the_nearest_earlier_one(file_type: str, used: str) -> None:
    layout, warning = layout_for(file_type)
    assert layout.file_type == used
    assert layout is exact(used)
    assert warning == (
        f"{file_type} has no field table in the ledger; read with the {used} layout "
        "(fields beyond it are kept unread)"
    )


@pytest.mark.parametrize(
    ("file_type", "listed"),
    [
        ("S0141007", "S0141008, S0141009"),
        ("S0141000", "S0141014"),
        ("S0144008", "S0144009"),
        ("S0142012", "S0142013"),
        ("S0143001", "S0141, S0142, S0144"),
        ("S0061001", "S0141, S0142, S0144"),
    ],
)
def test_an_older_version_or_another_flow_is_refused(file_type: str, listed: str) -> None:
    with pytest.raises(UnknownFlowVersion) as refused:
        layout_for(file_type)
    assert file_type in str(refused.value)
    assert listed in str(refused.value)
    assert isinstance(refused.value, LedgerError)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    "file_type", ["", "S0141", "s0141013", "S0141013 ", "S01410130", "S0141O13", "SAA-I014"]
)
def test_a_malformed_file_type_is_refused(file_type: str) -> None:
    with pytest.raises(UnknownFlowVersion, match="S0142013"):
        layout_for(file_type)


# --- Loading a layout file ------------------------------------------------------------------

BASE = """
[units.overrides]
odd_price = "GBP/MWh"

[layout.S0141001]
flow_name = "test"
order = ["AAB", "AAC"]

[layout.S0141001.record.AAB]
name = "Header"
cardinality = "1"
fields = [
  { pos = 1, item = "N0001", name = "odd_price", type = "decimal(10,2)", required = true },
  { pos = 2, name = "cash", type = "decimal(10,2)", required = false, sign = "credit" },
]

[layout.S0141001.record.AAC]
name = "Child"
parent = "AAB"
fields = [{ pos = 1, name = "volume", type = "decimal(10,3)", required = true }]
"""

NEXT = """
[layout.S0141002]
flow_name = "test"
based_on = "S0141001"
order = ["AAB", "AAC", "AAD"]

[layout.S0141002.record.AAD]
name = "New"
parent = "AAC"
fields = [{ pos = 1, name = "flag", type = "boolean", required = false }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layouts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_based_on_fills_in_the_records_a_version_does_not_retable(tmp_path: Path) -> None:
    layouts = load_layouts(write(tmp_path, BASE + NEXT))
    first, second = layouts["S0141001"], layouts["S0141002"]
    assert list(second.records) == ["AAB", "AAC", "AAD"]
    assert second.records["AAB"] is first.records["AAB"]
    header = second.records["AAB"]
    assert [(f.name, f.unit, f.sign) for f in header.fields] == [
        ("odd_price", "GBP/MWh", None),
        ("cash", "GBP", "credit"),
    ]
    assert second.records["AAD"].parent == "AAC"
    assert header.parent is None and header.cardinality == "1"
    assert second.records["AAC"].cardinality is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (('{ pos = 1, name = "volume"', '{ pos = 2, name = "volume"'), "positions must run"),
        (('name = "cash"', 'name = "odd_price"'), "repeated: odd_price"),
        (('sign = "credit"', 'sign = "plus"'), "sign 'plus'"),
        (('item = "N0001"', 'item = "1"'), "not an IDD item id"),
        (('parent = "AAB"', 'parent = "ZZZ"'), "parent not in it"),
        (('order = ["AAB", "AAC"]', 'order = ["AAB", "AAC", "AAE"]'), "AAE has no table"),
        (('order = ["AAB", "AAC"]', 'order = ["AAB"]'), "AAC are not in 'order'"),
        ((", required = true }]", " }]"), "'required' must be true or false"),
        (('cardinality = "1"', 'colour = "1"'), "unknown keys colour"),
    ],
)
def test_a_malformed_layout_file_is_refused(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    old, new = change
    assert old in BASE
    with pytest.raises(ValueError, match=complaint):
        load_layouts(write(tmp_path, BASE.replace(old, new, 1)))


def test_a_missing_or_circular_base_is_refused(tmp_path: Path) -> None:
    missing = NEXT.replace('based_on = "S0141001"', 'based_on = "S0141000"')
    with pytest.raises(ValueError, match="S0141000"):
        load_layouts(write(tmp_path, BASE + missing))
    circular = NEXT.replace('based_on = "S0141001"', 'based_on = "S0141002"')
    with pytest.raises(ValueError, match="S0141002"):
        load_layouts(write(tmp_path, BASE + circular))
