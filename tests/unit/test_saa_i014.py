"""The SAA-I014 settlement report parser (S0141, S0142, S0144) on the real layout.

Generated files come from the sample writer (:mod:`ledger.demo.samples`), whose ``sample_*``
functions say what a reader must find in them; handwritten files pin the naming by the layout
tables (``ledger/flows/layouts/saa_i014.toml``) and every business error. Items are compared by
(subject, period), never by their order in the stream. Lines profiled from the real portal
files, gzip, portal names and layout versions are in ``test_saa_i014_real_layout.py``.
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.demo.samples import (
    default_run_number,
    market_size_ids,
    sample_bm_unit_ids,
    sample_bm_unit_period_values,
    sample_daily_values,
    sample_party_ids,
    sample_party_period_values,
    sample_system_period_values,
    write_portal_file,
    write_settlement_report,
)
from ledger.domain.runs import RunType
from ledger.flows.canonical import DEFAULT_KEPT_PER_PERIOD, MAX_KEPT_BYTES, ReadLimits
from ledger.flows.idd import EnvelopeError, format_decimal, idd_checksum
from ledger.flows.record_layouts import layout_for
from ledger.flows.saa_i014 import (
    DailyValues,
    PeriodValues,
    ReportItem,
    SettlementReport,
    SettlementReportError,
    UnplacedRecord,
    parse_settlement_report,
)

Flow = Literal["S0141", "S0142"]
Line = tuple[str, list[str]]

CREATED = datetime(2026, 5, 7, 9, 30, tzinfo=UTC)
DAY = date(2026, 5, 6)
SEED = 3
PARTIES = ["NGC", "BRITGAS", "20222033"]
# One BM Unit of each kind the sample writer draws differently.
UNITS = {
    "NGC": ["I_IFD-EZPD1"],
    "BRITGAS": ["2__FBPGM002", "T_BRIT-1", "E_BLARW-1"],
    "20222033": ["V__AFLEX001", "C__BABCD001"],
}
ONE_UNIT = {"PTY00001": ["T_PTY00001-1"]}
S0141_AAA = "AAA|S0141013|D|20260507093000|SA|UKDC|BP|BRIT|1|OPER|"
S0142_AAA = "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER|"
SRH_BRITGAS = "SRH|20260506|SF|2|2|20260506|2|2|BRITGAS|"
SRH_NGC = "SRH|20260506|SF|2|2|20260506|2|2|NGC|"
BPH_BRITGAS = "BPH|20260506|SF|2|2|20260506|2|2|BRITGAS|"
WHERE = "party BRITGAS, settlement date 2026-05-06"
WMA_FLAG = "wholesale_market_proportion_of_delivered_volume_flag"

# Records the parser reads into items (or compares); every other record is kept on an item.
INTERPRETED = {
    "S0141": {"AAA", "SRH", "APC", "SPH", "PPC", "SSD", "BPD", "ZZZ"},
    "S0142": {"AAA", "SRH", "SPI", "BPI", "BPH", "APC", "SP7", "PPC", "SSD", "BP7", "ZZZ"},
}
# Where each kept record belongs, by the IDD hierarchy of the layout.
KEPT_ON = {
    "S0141": {
        "system": set[str](),
        "party": {"MD2", "DB2", "APD", "APB"},
        "bmu": {"RUE", "RUI", "RDE", "RDI", "BOD", "BOS", "BOA", "BO5", "MVR"},
    },
    "S0142": {
        "system": {"MD1", "DB1", "TRA"},
        "party": {"MD2", "DB2", "APD", "APB"},
        "bmu": {"RUE", "RUI", "RDE", "RDI", "BO4", "BO3", "MVR"},
    },
}


def generate(
    flow: Flow = "S0142",
    *,
    settlement_date: date = DAY,
    parties: Sequence[str] = PARTIES,
    bm_units: Mapping[str, Sequence[str]] = UNITS,
    revision: int = 0,
    line_end: bytes = b"\n",
    bom: bool = False,
    compress: bool = False,
) -> tuple[int, bytes]:
    """A sample report and the record count the writer returned."""
    out = io.BytesIO()
    count = write_settlement_report(
        out,
        flow=flow,
        settlement_date=settlement_date,
        run_type=RunType.SF,
        run_number=2,
        parties=parties,
        bm_units=bm_units,
        creation_time=CREATED,
        seed=SEED,
        revision=revision,
        line_end=line_end,
        bom=bom,
        gzip=compress,
    )
    return count, out.getvalue()


def parse(
    data: bytes, file_name: str | None = None, *, limits: ReadLimits | None = None
) -> tuple[SettlementReport, list[ReportItem]]:
    report = parse_settlement_report(io.BytesIO(data), file_name=file_name, limits=limits)
    return report, list(report.items())


def periods_of(items: Sequence[ReportItem]) -> dict[tuple[str, int], PeriodValues]:
    found = {(i.subject, i.settlement_period): i for i in items if isinstance(i, PeriodValues)}
    assert len(found) == sum(isinstance(i, PeriodValues) for i in items)
    return found


def dailies_of(items: Sequence[ReportItem]) -> dict[str, DailyValues]:
    return {i.subject: i for i in items if isinstance(i, DailyValues)}


def lines_of(data: bytes) -> list[Line]:
    """(record type, fields) of every line: line n is at index n - 1."""
    out = []
    for line in data.decode("ascii").splitlines():
        record_type, *fields = line.removesuffix("|").split("|")
        out.append((record_type, fields))
    return out


def build(records: list[str]) -> bytes:
    """An IDD file of these records with a correct trailer."""
    raw = [r.encode() for r in records]
    raw.append(f"ZZZ|{len(raw) + 1}|{idd_checksum(raw)}|".encode())
    return b"\n".join(raw) + b"\n"


def s0141(*body: str, aaa: str = S0141_AAA, srh: str = SRH_BRITGAS) -> bytes:
    return build([aaa, srh, *body])


def s0142(*body: str, srh: str = SRH_NGC) -> bytes:
    return build([S0142_AAA, srh, *body])


def rejected(data: bytes) -> str:
    with pytest.raises(SettlementReportError) as info:
        parse(data)
    return str(info.value)


def sample_values(subject: str, period: int, revision: int = 0) -> dict[str, Decimal]:
    """What the sample writer says a subject's period carries."""
    kind, _, name = subject.partition(":")
    if kind == "system":
        return sample_system_period_values(DAY, period, seed=SEED, revision=revision)
    if kind == "party":
        return sample_party_period_values(DAY, name, period, seed=SEED, revision=revision)
    return sample_bm_unit_period_values(DAY, name, period, seed=SEED, revision=revision)


def ssd(price: str = "75.13") -> str:
    """The head of an S0142/S0141 013 SSD: up to the price derivation code."""
    return f"SSD|0|130254.3|0|0|{price}|{price}|N|"


@pytest.fixture(scope="module")
def generated() -> dict[str, tuple[int, bytes]]:
    return {
        "S0141": generate("S0141", parties=["BRITGAS"]),
        "S0142": generate("S0142"),
    }


# -- generated files --------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["S0141", "S0142"])
def test_generated_reports_carry_the_sample_values(
    generated: dict[str, tuple[int, bytes]], flow: Flow
) -> None:
    count, data = generated[flow]
    parties = ["BRITGAS"] if flow == "S0141" else PARTIES
    report, items = parse(data)
    assert report.warnings == []
    assert report.flow == report.header.flow_id == flow
    assert report.layout.file_type == f"{flow}013"
    assert (report.srh.settlement_date, report.srh.run_type) == (DAY, RunType.SF)
    assert report.srh.saa_run_number == 2
    assert report.srh.bsc_party_id == ("BRITGAS" if flow == "S0141" else "NGC")
    assert report.record_count == count
    assert not [i for i in items if isinstance(i, UnplacedRecord)]

    periods = periods_of(items)
    owner = {unit: party for party in parties for unit in UNITS[party]}
    subjects = {"system"} | {f"party:{p}" for p in parties} | {f"bmu:{u}" for u in owner}
    assert set(periods) == {(s, p) for s in subjects for p in range(1, 49)}
    for (subject, period), item in periods.items():
        assert item.values == sample_values(subject, period), (subject, period)
        if subject.startswith("bmu:"):
            unit = subject.removeprefix("bmu:")
            # S0141's BPD values, as S0142's BP7 values, belong to the BM Unit, not the party.
            texts = {"bsc_party_id": owner[unit], "trading_unit_name": unit}
            if unit.startswith("V__") and WMA_FLAG in item.attributes:  # a secondary unit's
                texts[WMA_FLAG] = "F"  # flag, written on some of its periods
            assert item.attributes == texts
        elif subject == "system":
            assert item.attributes["price_derivation_code"] in {"N", "P"}
        else:
            assert item.attributes == {}

    dailies = [i for i in items if isinstance(i, DailyValues)]
    assert [d.subject for d in dailies] == [f"party:{p}" for p in parties]
    for daily in dailies:
        party = daily.subject.removeprefix("party:")
        assert daily.values == sample_daily_values(DAY, party, seed=SEED)
        assert daily.unconfirmed == {}


@pytest.mark.parametrize("flow", ["S0141", "S0142"])
def test_every_item_points_at_its_own_line(
    generated: dict[str, tuple[int, bytes]], flow: Flow
) -> None:
    lines = lines_of(generated[flow][1])
    opening = {
        "system": "SPI" if flow == "S0142" else "SSD",  # S0142: the system block's line
        "party": "SP7" if flow == "S0142" else "SPH",
        "bmu": "BP7" if flow == "S0142" else "BPD",
    }
    _, items = parse(generated[flow][1])
    for item in items:
        assert not isinstance(item, UnplacedRecord)
        record_type, fields = lines[item.record_position - 1]
        if isinstance(item, DailyValues):
            assert record_type == "APC"
            continue
        kind, _, name = item.subject.partition(":")
        assert record_type == opening[kind]
        if kind == "bmu":
            assert fields[0] == name
        elif record_type != "SSD":
            assert int(fields[0]) == item.settlement_period


@pytest.mark.parametrize("flow", ["S0141", "S0142"])
def test_every_other_record_is_kept_on_the_item_it_belongs_to(
    generated: dict[str, tuple[int, bytes]], flow: Flow
) -> None:
    data = generated[flow][1]
    lines = lines_of(data)
    _, items = parse(data)
    kept: dict[str, list[str]] = {}
    for item in periods_of(items).values():
        kind = item.subject.partition(":")[0]
        for key, fields in item.unconfirmed.items():
            record_type, _, line = key.partition("@")
            assert record_type in KEPT_ON[flow][kind], (item.subject, key)
            assert int(line) > item.record_position
            kept[key] = fields
    expected = {
        f"{record_type}@{n}": fields
        for n, (record_type, fields) in enumerate(lines, 1)
        if record_type not in INTERPRETED[flow]
    }
    assert kept == expected
    assert len(kept) > 48 * 5


@pytest.mark.parametrize(("day", "periods"), [(date(2026, 10, 25), 50), (date(2026, 3, 29), 46)])
@pytest.mark.parametrize("flow", ["S0141", "S0142"])
def test_clock_change_days(flow: Flow, day: date, periods: int) -> None:
    _, data = generate(flow, settlement_date=day, parties=["PTY00001"], bm_units=ONE_UNIT)
    report, items = parse(data)
    assert report.warnings == []
    found = Counter(subject for subject, _ in periods_of(items))
    assert found == {"system": periods, "party:PTY00001": periods, "bmu:T_PTY00001-1": periods}
    assert {p for _, p in periods_of(items)} == set(range(1, periods + 1))


def test_bom_and_crlf_read_as_the_same_report() -> None:
    _, plain = generate("S0141", parties=["BRITGAS"])
    _, data = generate("S0141", parties=["BRITGAS"], line_end=b"\r\n", bom=True)
    assert data.startswith(b"\xef\xbb\xbfAAA|S0141013|") and data.count(b"\r\n") > 48
    report, items = parse(data)
    assert report.warnings == []
    assert items == parse(plain)[1]


def test_a_later_revision_moves_every_drawn_value() -> None:
    def by_key(data: bytes) -> dict[tuple[str, int], PeriodValues | DailyValues]:
        # A party's day is period 0: its values are not its periods' values.
        return {
            (i.subject, i.settlement_period if isinstance(i, PeriodValues) else 0): i
            for i in parse(data)[1]
            if not isinstance(i, UnplacedRecord)
        }

    first, second = by_key(generate()[1]), by_key(generate(revision=1)[1])
    assert first.keys() == second.keys()
    # A field the writer draws takes several values over a subject's day; one it holds
    # constant (an always-0 cashflow, a loss factor of the day) takes one.
    over_the_day: dict[tuple[str, bool, str], set[Decimal]] = {}
    for (subject, period), item in first.items():
        for name, value in item.values.items():
            over_the_day.setdefault((subject, period == 0, name), set()).add(value)
    moved: set[str] = set()
    for (subject, period), a in first.items():
        b = second[subject, period]
        assert a.values.keys() == b.values.keys(), subject  # the same fields written
        assert a.unconfirmed.keys() == b.unconfirmed.keys(), subject  # the same records kept
        if isinstance(a, DailyValues):  # the day's sums move with its periods
            assert a.values != b.values, subject
        for name, value in a.values.items():
            if b.values[name] != value:
                moved.add(subject)
            else:  # unmoved: zero in both (a rarely non-zero field), or constant over the day
                constant = len(over_the_day[subject, period == 0, name]) == 1
                assert value == 0 or constant, (subject, period, name)
    assert moved == {subject for subject, _ in first}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_write_returns_the_record_count(compress: bool) -> None:
    count, data = generate(compress=compress)
    text = gzip.decompress(data) if compress else data
    assert count == text.count(b"\n") == len(lines_of(text))
    report, items = parse(data)
    assert report.record_count == count
    assert report.checksum == int(lines_of(text)[-1][1][1])
    assert len(periods_of(items)) == 48 * (1 + len(PARTIES) + 6)


def test_a_portal_file_reads_under_its_name_with_the_default_run_number(tmp_path: Path) -> None:
    path = write_portal_file(
        tmp_path,
        settlement_date=DAY,
        run_type=RunType.R3,
        parties=PARTIES,
        bm_units=UNITS,
        creation_time=CREATED,
        seed=SEED,
    )
    report, items = parse(path.read_bytes(), file_name=path.name)
    assert report.warnings == []
    assert report.srh.run_type is RunType.R3
    assert report.srh.saa_run_number == default_run_number(RunType.R3) == 5
    assert report.header.creation_time == CREATED
    assert len(periods_of(items)) == 48 * (1 + len(PARTIES) + 6)


def test_sample_ids_are_valid() -> None:
    parties = sample_party_ids(3)
    assert parties == ["PTY00001", "PTY00002", "PTY00003"]
    assert sample_bm_unit_ids("PTY99999", 12)[-1] == "T_PTY99999-12"
    _, data = generate(parties=parties, bm_units={p: sample_bm_unit_ids(p, 2) for p in parties})
    report, items = parse(data)
    assert report.warnings == []
    assert len(periods_of(items)) == 48 * (1 + 3 + 6)


def test_a_larger_s0142_with_market_shaped_ids() -> None:
    market_parties, market_units = market_size_ids()
    parties = market_parties[:30]
    units = {p: market_units[p][:5] for p in parties}
    count, data = generate(parties=parties, bm_units=units)
    report, items = parse(data)
    assert report.warnings == []
    assert report.record_count == count
    kinds = Counter(type(i).__name__ for i in items)
    assert kinds == {"PeriodValues": 48 * (1 + 30 + 150), "DailyValues": 30}
    prefixes = set()
    for (subject, period), item in periods_of(items).items():
        if subject.startswith("bmu:"):
            prefixes.add(subject[4:7])
            assert item.values == sample_values(subject, period), (subject, period)
    assert {"2__", "C__"} <= prefixes


# -- header lines, layouts and versions -------------------------------------------------------


def test_domain_header_lines() -> None:
    data = build(
        [
            "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER",
            "SRH|20260217|R3|5|5|20260217|5|166705|NGC",
        ]
    )
    report, items = parse(data)
    assert report.header.file_type == "S0142013"
    assert report.header.creation_time == datetime(2026, 9, 22, 22, 44, 32, tzinfo=UTC)
    assert report.header.test_flag == "OPER"
    srh = report.srh
    assert srh.settlement_date == date(2026, 2, 17)
    assert srh.run_type is RunType.R3
    assert srh.saa_run_number == 5
    assert srh.saa_cdca_run_number == 5
    assert srh.svaa_cdca_settlement_date == date(2026, 2, 17)
    assert srh.svaa_cdca_run_number == 5
    assert srh.svaa_ssr_run_number == 166705
    assert srh.bsc_party_id == "NGC"
    assert items == []
    assert report.record_count == 3


def test_srh_optional_fields_empty() -> None:
    report, _ = parse(s0142(srh="SRH|20260506|II|1|||||"))
    srh = report.srh
    assert (srh.run_type, srh.saa_run_number) == (RunType.II, 1)
    assert srh.saa_cdca_run_number is None
    assert srh.svaa_cdca_settlement_date is None
    assert srh.svaa_cdca_run_number is None
    assert srh.svaa_ssr_run_number is None
    assert srh.bsc_party_id is None


def bpd_line() -> str:
    """A BPD record of S0141 013: 25 fields, some blank, a text and a flag among them."""
    fields = ["T_BRIT-1", "0", "12.5", "100", "-3.25", "0", "99.5", "98.75", "0", "0"]
    fields += ["-0.0123456", "0.9876544", "Marsh Lane Trading Unit", "1200.5", "0", "", "0"]
    fields += ["", "", "", "F", "", "", "", ""]
    assert len(fields) == 25
    return "BPD|" + "|".join(fields) + "|"


def test_handwritten_s0141_values_exactly() -> None:
    _, items = parse(
        s0141(
            "APC|1|2|3|4|5|6|7||||0.5|0.25|",
            "SPH|3|",
            "PPC|10.5|-2000|300.25|0|1.5|-7|||0.05|-0.56|",
            "SSD|20000|-15000.5|0|0|85.12345|85.12345|A|-123.456|",
            bpd_line(),
            "MVR|BRITGAS|P|1.5|0|100|",
            "SPH|4|",
            "PPC||||||1|",
        )
    )
    assert len(items) == 5
    assert dailies_of(items) == {
        "party:BRITGAS": DailyValues(
            "party:BRITGAS",
            {
                "bssc_limited_cost_allocation": Decimal(1),
                "bm_unit_cashflow": Decimal(2),
                "energy_imbalance_cashflow": Decimal(3),
                "information_imbalance_cashflow": Decimal(4),
                "non_delivery_charge": Decimal(5),
                "residual_cashflow_reallocation_charge": Decimal(6),
                "daily_system_operator_cashflow": Decimal(7),
                "daily_virtual_lead_party_compensation_cashflow": Decimal("0.5"),
                "daily_supplier_compensation_cashflow": Decimal("0.25"),
            },
            {},
            3,
        )
    }
    party_3 = {
        "bssc_limited_cost_allocation": Decimal("10.5"),
        "bm_unit_cashflow": Decimal(-2000),
        "energy_imbalance_cashflow": Decimal("300.25"),
        "information_imbalance_cashflow": Decimal(0),
        "non_delivery_charge": Decimal("1.5"),
        "residual_cashflow_reallocation_charge": Decimal(-7),
        "period_virtual_lead_party_compensation_cashflow": Decimal("0.05"),
        "period_supplier_compensation_cashflow": Decimal("-0.56"),
    }
    system_3 = {
        "period_bssc_limited_costs": Decimal(20000),
        "system_operator_cashflow": Decimal("-15000.5"),
        "information_imbalance_price_1": Decimal(0),
        "information_imbalance_price_2": Decimal(0),
        "system_buy_price": Decimal("85.12345"),
        "system_sell_price": Decimal("85.12345"),
        "total_system_bm_cashflow": Decimal("-123.456"),
    }
    unit_3 = {
        "information_imbalance_cashflow": Decimal(0),
        "bm_unit_period_non_delivery_charge": Decimal("12.5"),
        "period_fpn": Decimal(100),
        "period_bm_unit_balancing_services_volume": Decimal("-3.25"),
        "period_information_imbalance_volume": Decimal(0),
        "period_expected_metered_volume": Decimal("99.5"),
        "bm_unit_metered_volume": Decimal("98.75"),
        "period_bm_unit_non_delivered_bid_volume": Decimal(0),
        "period_bm_unit_non_delivered_offer_volume": Decimal(0),
        "transmission_loss_factor": Decimal("-0.0123456"),
        "transmission_loss_multiplier": Decimal("0.9876544"),
        "total_trading_unit_metered_volume": Decimal("1200.5"),
        "bm_unit_applicable_balancing_services_volume": Decimal(0),
        "period_supplier_bm_unit_non_bm_absvd_volume": Decimal(0),
    }
    unit_texts = {
        "bsc_party_id": "BRITGAS",
        "trading_unit_name": "Marsh Lane Trading Unit",
        "wholesale_market_proportion_of_delivered_volume_flag": "F",
    }
    mvr = ["BRITGAS", "P", "1.5", "0", "100"]
    assert periods_of(items) == {
        ("party:BRITGAS", 3): PeriodValues("party:BRITGAS", 3, party_3, {}, {}, 4),
        ("system", 3): PeriodValues("system", 3, system_3, {"price_derivation_code": "A"}, {}, 6),
        ("bmu:T_BRIT-1", 3): PeriodValues("bmu:T_BRIT-1", 3, unit_3, unit_texts, {"MVR@8": mvr}, 7),
        ("party:BRITGAS", 4): PeriodValues(
            "party:BRITGAS", 4, {"residual_cashflow_reallocation_charge": Decimal(1)}, {}, {}, 9
        ),
    }


@pytest.mark.parametrize(
    ("version", "apc_7", "ssd_2"),
    [
        ("008", "daily_system_operator_bm_cashflow", "system_operator_bm_cashflow"),
        ("009", "daily_system_operator_cashflow", "system_operator_cashflow"),
    ],
)
def test_s0141_values_are_named_by_the_layout_of_the_files_version(
    version: str, apc_7: str, ssd_2: str
) -> None:
    file_type = f"S0141{version}"
    layout, _ = layout_for(file_type)
    assert layout.records["APC"].fields[6].name == apc_7
    assert layout.records["APC"].fields[6].item == ("N0214" if version == "008" else "N0592")
    assert layout.records["SSD"].fields[1].name == ssd_2
    report, items = parse(
        s0141(
            "APC|1|2|3|4|5|6|7|8.5|9|",
            "SPH|1|",
            "SSD|1|2|",
            aaa=S0141_AAA.replace("S0141013", file_type),
        )
    )
    assert report.warnings == []
    (daily,) = dailies_of(items).values()
    assert daily.values[apc_7] == 7
    assert periods_of(items)["system", 1].values == {
        "period_bssc_limited_costs": Decimal(1),
        ssd_2: Decimal(2),
    }
    if version == "008":  # APC has 7 fields: what lies beyond is kept, by line
        assert "daily_system_operator_cashflow" not in daily.values
        assert daily.unconfirmed == {"APC@3": ["8.5", "9"]}
    else:  # positions 8 and 9 are RR cashflows
        assert "daily_system_operator_bm_cashflow" not in daily.values
        assert daily.values["rr_cashflow"] == Decimal("8.5")
        assert daily.values["rr_instructed_deviation_cashflow"] == 9
        assert daily.unconfirmed == {}


def test_handwritten_s0144_reports_a_virtual_lead_partys_units() -> None:
    _, items = parse(
        build(
            [
                "AAA|S0144013|D|20260507093000|SA|UKDC|BP|VLP|1|OPER|",
                "SRH|20260506|SF|2|2|20260506|2|2|VLPONE|",
                "AVC|1|2|",
                "SVH|5|",
                "PVC|3|",
                "SVD|-15000.5|0|0|85.12345|85.12345|P|",
                "VPD|V__AFLEX001|0|0|5|",
                "BOD|1|",
            ]
        )
    )
    assert dailies_of(items)["party:VLPONE"].values == {
        "bm_unit_cashflow": Decimal(1),
        "energy_imbalance_cashflow": Decimal(2),
    }
    periods = periods_of(items)
    assert set(periods) == {("party:VLPONE", 5), ("system", 5), ("bmu:V__AFLEX001", 5)}
    assert periods["party:VLPONE", 5].values == {"bm_unit_cashflow": Decimal(3)}
    assert periods["system", 5].values["system_buy_price"] == Decimal("85.12345")
    assert periods["system", 5].attributes == {"price_derivation_code": "P"}
    unit = periods["bmu:V__AFLEX001", 5]
    assert unit.values == {
        "information_imbalance_cashflow": Decimal(0),
        "bm_unit_period_non_delivery_charge": Decimal(0),
        "period_fpn": Decimal(5),
    }
    assert unit.attributes == {"bsc_party_id": "VLPONE"}
    assert unit.unconfirmed == {"BOD@8": ["1"]}


def test_records_not_interpreted_are_kept_with_their_lines() -> None:
    report, items = parse(
        s0142(
            "SPI|1|75.13|75.13|N|",  # 3
            "QQQ|system-ish|",  # 4: unknown, in the system block
            "MEL|1|2|3|4|",  # 5: known, no parent in the layout: the open item
            BPH_BRITGAS,  # 6
            "XX1|before periods|",  # 7: outside any item
            "APC|1|",  # 8
            "SP7|1|extra|",  # 9: a field beyond SP7's layout
            ssd(),  # 10
            "MD2|N2EXMIDP|25|80.1|100.5|",  # 11: SSD's child, kept on the party's period
            "PPC|1|2|3|4|5|6|||0.05|-0.56|beyond|",  # 12: 11 fields, the layout has 10
            "XX2|in the period|",  # 13
            "BP7|T_BRIT-1|9|",  # 14
            "RUE|1.5|",  # 15: BP7's child
            "XX3|in the unit|",  # 16: unknown, in the unit's period
            "APB|T_BRIT-1|1|2|3|",  # 17: APD's child, SP7's grandchild: the party's period
            "SP7|2|",  # 18
            "XX4|second period|",  # 19
        )
    )
    assert report.warnings == []
    periods = periods_of(items)
    assert periods["system", 1].unconfirmed == {
        "QQQ@4": ["system-ish"],
        "MEL@5": ["1", "2", "3", "4"],
    }
    assert periods["party:BRITGAS", 1].unconfirmed == {
        "SP7@9": ["extra"],
        "MD2@11": ["N2EXMIDP", "25", "80.1", "100.5"],
        "PPC@12": ["beyond"],
        "XX2@13": ["in the period"],
        "APB@17": ["T_BRIT-1", "1", "2", "3"],
    }
    assert periods["party:BRITGAS", 1].values["period_supplier_compensation_cashflow"] == Decimal(
        "-0.56"
    )
    assert periods["bmu:T_BRIT-1", 1].unconfirmed == {
        "RUE@15": ["1.5"],
        "XX3@16": ["in the unit"],
    }
    assert periods["bmu:T_BRIT-1", 1].values == {"information_imbalance_cashflow": Decimal(9)}
    assert periods["party:BRITGAS", 2].unconfirmed == {"XX4@19": ["second period"]}
    assert [i for i in items if isinstance(i, UnplacedRecord)] == [
        UnplacedRecord(7, "XX1", ["before periods"])
    ]


def test_spi_without_ssd_still_reported_with_unidentified_fields_as_text() -> None:
    _, items = parse(s0142("SPI|1|75.13|75.13|N|-17298.664|", "SPI|2|80|80|P|"))
    assert items == [
        PeriodValues(
            "system",
            1,
            {"system_buy_price": Decimal("75.13"), "system_sell_price": Decimal("75.13")},
            # SPI position 5 is of unidentified meaning: text, never a value
            {"price_derivation_code": "N", "unidentified_5": "-17298.664"},
            {},
            3,
        ),
        PeriodValues(
            "system",
            2,
            {"system_buy_price": Decimal(80), "system_sell_price": Decimal(80)},
            {"price_derivation_code": "P"},
            {},
            4,
        ),
    ]


def test_repeated_system_data_is_reported_once_and_differences_are_warned() -> None:
    edf = BPH_BRITGAS.replace("BRITGAS", "EDF")
    report, items = parse(
        s0142(
            "SPI|1|75.13|75.13|N|",  # 3
            "SPI|2|75.13|75.13|N|",  # 4
            BPH_BRITGAS,  # 5
            "SP7|1|",  # 6
            ssd(),  # 7: as the system block
            "SP7|2|",  # 8
            ssd("90"),  # 9: not as the system block: the SSD is kept
            edf,  # 10
            "SP7|1|",  # 11
            ssd(),  # 12: a copy as the first
            "SP7|2|",  # 13
            ssd(),  # 14: a copy unlike the first: the first is kept
        )
    )
    periods = periods_of(items)
    assert [s for s, _ in periods].count("system") == 2
    assert periods["system", 1].values["system_buy_price"] == Decimal("75.13")
    assert periods["system", 2].values["system_buy_price"] == Decimal(90)
    assert periods["system", 2].record_position == 4
    assert report.warnings == [
        "S0142 line 9: system data for period 2 differs from the system block (line 4) in "
        "system_buy_price, system_sell_price; the SSD values were kept",
        "S0142 line 14: system data (SSD) for settlement date 2026-05-06 period 2 under party "
        "EDF differs from the first copy in the file (line 9); the first was kept",
    ]


def test_bm_units_the_system_block_and_the_parties_do_not_both_carry_are_warnings() -> None:
    report, items = parse(
        s0142(
            "SPI|1|",  # 3
            "BPI|T_BRIT-1||0|1|",  # 4: confirmed by its BP7 below
            "BPI|T_BRIT-2||0|1|",  # 5: no BP7 of its own
            BPH_BRITGAS,
            "SP7|1|",
            "BP7|T_BRIT-1|0|0|0|0|0|0|1|",
            "BP7|T_BRIT-3|",  # no BPI to confirm it
        )
    )
    assert set(periods_of(items)) == {
        ("system", 1),
        ("party:BRITGAS", 1),
        ("bmu:T_BRIT-1", 1),
        ("bmu:T_BRIT-3", 1),
    }
    assert report.warnings == [
        "S0142: 1 BM Unit periods of the system block have no BM Unit record of their own "
        "(first on line 5); they are in the stored file only",
        "S0142: 1 BM Unit periods have no line in the system block to confirm their values",
    ]


def differing_copies(periods: int) -> bytes:
    """An S0142 whose second party's system data differs from the first's in every period:
    one warning per period."""
    body = [f"SPI|{p}|" for p in range(1, periods + 1)]
    for party, copy in (("BRITGAS", ssd("75")), ("EDF", ssd("80"))):  # EDF's copies differ
        body.append(BPH_BRITGAS.replace("BRITGAS", party))
        body += [line for p in range(1, periods + 1) for line in (f"SP7|{p}|", copy)]
    return s0142(*body)


def test_every_warning_is_kept() -> None:
    report, items = parse(differing_copies(46))
    assert len(periods_of(items)) == 46 * 3
    assert report.warning_count == len(report.warnings) == 46
    assert all(" under party EDF differs from the first copy" in w for w in report.warnings)
    assert [w.split(":")[0] for w in report.warnings] == [
        f"S0142 line {142 + 2 * p}" for p in range(1, 47)
    ]


def test_warnings_past_the_bound_are_counted_by_kind_not_kept() -> None:
    data = differing_copies(25)
    report, _ = parse(data, limits=ReadLimits(max_warnings=20))
    assert report.warning_count == 25
    assert len(report.warnings) == 21
    assert all(" under party EDF differs from the first copy" in w for w in report.warnings[:20])
    assert report.warnings[20] == (
        "5 further warnings were found of copies of system data differing from the first, not "
        "kept: a file keeps its first 20 warnings (LEDGER_MAX_WARNINGS)"
    )


def test_empty_optional_decimals_are_absent() -> None:
    _, items = parse(s0141("SPH|1|", "PPC|1|||||||||", "SSD|||||||||"))
    assert periods_of(items) == {
        ("party:BRITGAS", 1): PeriodValues(
            "party:BRITGAS", 1, {"bssc_limited_cost_allocation": Decimal(1)}, {}, {}, 3
        ),
        ("system", 1): PeriodValues("system", 1, {}, {}, {}, 5),
    }


# -- rejections -------------------------------------------------------------------------------


def test_unknown_run_type() -> None:
    assert rejected(s0141(srh="SRH|20260506|R9|2|2|20260506|2|2|BRITGAS|")) == (
        "S0141 line 2 (SRH, settlement date 2026-05-06): unknown settlement run type 'R9'; "
        "expected one of II, SF, R1, R2, R3, RF, DF"
    )


def test_invalid_settlement_date() -> None:
    assert rejected(s0141(srh="SRH|20260230|SF|2|2|20260506|2|2|BRITGAS|")) == (
        "S0141 line 2 (SRH): settlement date '20260230' is not a valid date (YYYYMMDD)"
    )


def test_period_out_of_range_for_the_day() -> None:
    assert rejected(s0141("SPH|49|")) == (
        f"S0141 line 3 (SPH, {WHERE}): settlement period 49 does not exist on 2026-05-06, "
        "which has 48 periods"
    )
    spring = "SRH|20260329|SF|2|2|20260329|2|2|NGC|"
    assert rejected(s0142(BPH_BRITGAS.replace("20260506", "20260329"), "SP7|47|", srh=spring)) == (
        "S0142 line 4 (SP7, party BRITGAS, settlement date 2026-03-29): settlement period 47 "
        "does not exist on 2026-03-29, which has 46 periods"
    )
    assert rejected(s0142("SPI|49|")) == (
        "S0142 line 3 (SPI, settlement date 2026-05-06): settlement period 49 does not exist "
        "on 2026-05-06, which has 48 periods"
    )
    autumn = "SRH|20261025|SF|2|2|20261025|2|2|NGC|"
    assert list(periods_of(parse(s0142("SPI|50|", srh=autumn))[1])) == [("system", 50)]
    assert rejected(s0141("SPH|x|")) == (
        f"S0141 line 3 (SPH, {WHERE}): settlement period 'x' is not a whole number"
    )


def test_malformed_decimal_names_the_field() -> None:
    assert rejected(s0141("SPH|3|", "PPC|1|2|12.x5|4|5|6|")) == (
        f"S0141 line 4 (PPC, {WHERE}, period 3): field 3: energy_imbalance_cashflow '12.x5' "
        "is not a decimal number"
    )
    assert rejected(s0141("SPH|3|", "SSD|1|2|3|4|NaN|5|A|")) == (
        f"S0141 line 4 (SSD, {WHERE}, period 3): field 5: system_buy_price 'NaN' is not a "
        "decimal number"
    )
    assert rejected(s0141("APC|1e5|")) == (
        f"S0141 line 3 (APC, {WHERE}): field 1: bssc_limited_cost_allocation '1e5' is not a "
        "decimal number"
    )
    assert rejected(s0141("SPH|3|", "BPD|T_BRIT-1|0|0|x|")) == (
        f"S0141 line 4 (BPD, {WHERE}, period 3): field 4: period_fpn 'x' is not a decimal number"
    )
    assert rejected(s0142(BPH_BRITGAS, "SP7|3|", "BP7|T_BRIT-1|0|0|0|0|0|0|1,5|")) == (
        f"S0142 line 5 (BP7, {WHERE}, period 3): field 8: bm_unit_metered_volume '1,5' is not "
        "a decimal number"
    )
    assert rejected(s0142("SPI|3|zz|")) == (
        "S0142 line 3 (SPI, settlement date 2026-05-06, period 3): field 2: system_buy_price "
        "'zz' is not a decimal number"
    )
    assert rejected(s0142("SPI|3|", "BPI|T_BRIT-1||0|--1|")) == (
        "S0142 line 4 (BPI, settlement date 2026-05-06, period 3): field 4: "
        "bm_unit_metered_volume '--1' is not a decimal number"
    )


def test_invalid_party_and_bm_unit_ids() -> None:
    not_a_party = "'TOOLONGPARTY' is not a BSC Party Id (1 to 8 letters, digits, '_' or '-')"
    assert rejected(s0142("BPH|20260506|SF|2|2|20260506|2|2|TOOLONGPARTY|")) == (
        f"S0142 line 3 (BPH, settlement date 2026-05-06): {not_a_party}"
    )
    assert rejected(s0141(srh="SRH|20260506|SF|2|2|20260506|2|2|TOOLONGPARTY|")) == (
        f"S0141 line 2 (SRH, settlement date 2026-05-06): {not_a_party}"
    )
    assert rejected(s0141(srh="SRH|20260506|SF|2|2|20260506|2|2||")) == (
        "S0141 line 2 (SRH, settlement date 2026-05-06): an S0141 header must name the BSC "
        "Party (field 8)"
    )
    assert rejected(s0142("BPH|20260506|SF|2|2|20260506|2|2||")) == (
        "S0142 line 3 (BPH, settlement date 2026-05-06): BPH record names no BSC Party"
    )
    not_a_unit = (
        "'X_NOPE' is not a BM Unit Id (up to 16 characters starting T_, E_, I_, 2__, C__, V__ "
        "or M_)"
    )
    assert rejected(s0142(BPH_BRITGAS, "SP7|1|", "BP7|X_NOPE|")) == (
        f"S0142 line 5 (BP7, {WHERE}, period 1): {not_a_unit}"
    )
    assert rejected(s0141("SPH|1|", "BPD|X_NOPE|")) == (
        f"S0141 line 4 (BPD, {WHERE}, period 1): {not_a_unit}"
    )
    assert rejected(s0142("SPI|1|", "BPI|X_NOPE|")) == (
        f"S0142 line 4 (BPI, settlement date 2026-05-06, period 1): {not_a_unit}"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (s0141("PPC|1|"), f"S0141 line 3 (PPC, {WHERE}): PPC record outside a settlement period"),
        (s0141("SSD|1|"), f"S0141 line 3 (SSD, {WHERE}): SSD record outside a settlement period"),
        (
            s0141("BPD|T_BRIT-1|"),
            f"S0141 line 3 (BPD, {WHERE}): BPD record outside a settlement period",
        ),
        (
            s0142(BPH_BRITGAS, "BP7|T_BRIT-1|"),
            f"S0142 line 4 (BP7, {WHERE}): BP7 record outside a settlement period",
        ),
        (
            s0142(BPH_BRITGAS, "APC|1|", "SP7|1|", "APC|2|", "PPC|1|"),
            "S0142 carries party:BRITGAS daily charges twice, on line 4 and again on line 6; "
            "a report gives each subject-period once",
        ),
        (
            s0142(BPH_BRITGAS, "SP7|1|", "BPI|T_BRIT-1|"),
            f"S0142 line 5 (BPI, {WHERE}, period 1): BPI record outside the system block",
        ),
        (
            s0141("SPH|1|", "PPC|1|", "PPC|1|"),
            f"S0141 line 5 (PPC, {WHERE}, period 1): second PPC record in the period",
        ),
        (
            s0142("SP7|1|"),
            "S0142 line 3 (SP7, settlement date 2026-05-06): SP7 record before any party",
        ),
        (
            s0142("APC|1|"),
            "S0142 line 3 (APC, settlement date 2026-05-06): APC record before any party",
        ),
        (
            s0142("PPC|1|"),
            "S0142 line 3 (PPC, settlement date 2026-05-06): PPC record outside a settlement "
            "period",
        ),
    ],
    ids=[
        "S0141 PPC",
        "S0141 SSD",
        "S0141 BPD",
        "S0142 BP7 before SP7",
        "S0142 PPC after the day's APC",
        "S0142 BPI under a party",
        "second PPC",
        "SP7 before BPH",
        "APC before BPH",
        "PPC before BPH",
    ],
)
def test_records_outside_a_period(data: bytes, message: str) -> None:
    assert rejected(data) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            ["SPI|1|", "SPI|1|"],
            "S0142 line 4 (SPI, settlement date 2026-05-06, period 1): a second SPI record, or "
            "one after the period's system data",
        ),
        (
            [BPH_BRITGAS, "SP7|1|", ssd(), "SPI|1|"],
            "S0142 line 6 (SPI, settlement date 2026-05-06, period 1): a second SPI record, or "
            "one after the period's system data",
        ),
        (
            ["SPI|1|", "BPI|T_BRIT-1|", "BPI|T_BRIT-1|"],
            "S0142 line 5 (BPI, settlement date 2026-05-06, period 1): BM Unit T_BRIT-1 appears "
            "twice in period 1 of the system block (lines 4 and 5)",
        ),
    ],
    ids=["second SPI", "SPI after the system data", "BPI twice"],
)
def test_the_system_block_gives_a_period_and_a_unit_once(body: list[str], message: str) -> None:
    assert rejected(s0142(*body)) == message


def test_bph_must_match_the_report_header() -> None:
    assert rejected(s0142(BPH_BRITGAS.replace("|SF|", "|R1|"))) == (
        f"S0142 line 3 (BPH, {WHERE}): run type 'R1' differs from the report header's SF"
    )
    assert rejected(s0142(BPH_BRITGAS.replace("|20260506|SF|", "|20260507|SF|"))) == (
        f"S0142 line 3 (BPH, {WHERE}): settlement date '20260507' differs from the report header's"
    )
    report, _ = parse(s0142(BPH_BRITGAS.replace("|SF|2|", "|SF|3|")))
    assert report.warnings == [
        "S0142 line 3: party BRITGAS header carries SAA run number '3', the report header 2"
    ]


def test_wrong_flow_type() -> None:
    data = build(["AAA|S0043001|D|20260507093000|SA|UKDC|BP|BRIT|1|OPER|", SRH_BRITGAS])
    assert rejected(data) == (
        "file type 'S0043001' is not an SAA-I014 settlement report (expected S0141, S0142, S0144)"
    )


def test_missing_or_repeated_srh() -> None:
    assert rejected(s0141(srh="SPH|1|")) == (
        "S0141 line 2: expected the SRH settlement report header, found 'SPH'"
    )
    assert rejected(build([S0141_AAA])) == (
        "S0141 line 2: expected the SRH settlement report header, found the trailer"
    )
    assert rejected(s0141("APC|1|", SRH_BRITGAS)) == (
        f"S0141 line 4 (SRH, {WHERE}): unexpected SRH record"
    )


def test_envelope_errors_propagate_at_the_end() -> None:
    _, data = generate("S0141", parties=["BRITGAS"])
    assert b"\nPPC|0|" in data
    altered = data.replace(b"\nPPC|0|", b"\nPPC|1|", 1)  # still a valid report, differently
    report = parse_settlement_report(io.BytesIO(altered))
    items = report.items()
    assert isinstance(next(items), DailyValues)  # items stream before the checksum is known
    with pytest.raises(EnvelopeError, match=r"^S0141: checksum mismatch: trailer says \d+"):
        list(items)
    with pytest.raises(RuntimeError, match="once items\\(\\) is exhausted"):
        report.record_count  # noqa: B018
    truncated = data.rsplit(b"ZZZ", 1)[0]
    last = truncated.count(b"\n")
    with pytest.raises(
        EnvelopeError,
        match=f"^S0141: file ends after line {last} without a ZZZ trailer \\(truncated\\)$",
    ):
        parse(truncated)


def test_items_can_be_read_once() -> None:
    report = parse_settlement_report(io.BytesIO(s0141()))
    assert list(report.items()) == []
    with pytest.raises(RuntimeError, match="can be read only once"):
        report.items()


@pytest.mark.parametrize("body", [["SPH|" + "1" * 5000 + "|"]], ids=["period of 5,000 digits"])
def test_a_whole_number_too_long_to_be_one_is_a_business_error(body: list[str]) -> None:
    message = rejected(s0141(*body))
    assert message.startswith(f"S0141 line 3 (SPH, {WHERE}): settlement period '1111")
    assert message.endswith("(5000 characters) is not a whole number")
    assert len(message) < 400


def test_a_run_number_too_long_to_be_one_is_a_business_error() -> None:
    message = rejected(s0141(srh="SRH|20260506|SF|" + "2" * 5000 + "|2|20260506|2|2|BRITGAS|"))
    assert message.startswith("S0141 line 2 (SRH, settlement date 2026-05-06): SAA run number ")
    assert message.endswith("(5000 characters) is not a whole number")
    assert len(message) < 400
    assert rejected(s0141(srh="SRH|20260506|SF||2|20260506|2|2|BRITGAS|")) == (
        "S0141 line 2 (SRH, settlement date 2026-05-06): SAA run number is missing"
    )


# -- round trip property ----------------------------------------------------------------------

S0141_LAYOUT, _ = layout_for("S0141013")
PPC_NAMES = S0141_LAYOUT.records["PPC"].names  # 10 cashflows
SSD_HEAD = S0141_LAYOUT.records["SSD"].names[:6]  # costs, cashflow, prices; 7 is a code

money = st.decimals(
    min_value=Decimal("-99999999.99"),
    max_value=Decimal("99999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
price = st.decimals(
    min_value=Decimal("-99999.99999"),
    max_value=Decimal("99999.99999"),
    places=5,
    allow_nan=False,
    allow_infinity=False,
)


@settings(max_examples=50, deadline=None)
@given(
    ppc=st.lists(st.one_of(st.none(), money), min_size=10, max_size=10),
    ssd_values=st.lists(st.one_of(st.none(), price), min_size=6, max_size=6),
)
def test_written_decimals_read_back_losslessly(
    ppc: list[Decimal | None], ssd_values: list[Decimal | None]
) -> None:
    def text(values: list[Decimal | None]) -> str:
        return "|".join("" if v is None else format_decimal(v) for v in values)

    _, items = parse(s0141("SPH|1|", f"PPC|{text(ppc)}|", f"SSD|{text(ssd_values)}|N|"))
    periods = periods_of(items)
    assert set(periods) == {("party:BRITGAS", 1), ("system", 1)}
    assert periods["party:BRITGAS", 1].values == {
        n: v for n, v in zip(PPC_NAMES, ppc, strict=True) if v is not None
    }
    assert periods["system", 1].values == {
        n: v for n, v in zip(SSD_HEAD, ssd_values, strict=True) if v is not None
    }
    assert periods["system", 1].attributes == {"price_derivation_code": "N"}


# -- bounds on what is kept without being interpreted -------------------------------------------

NOT_READ = "the file was not read further"


class CountingStream(io.RawIOBase):
    """A stream that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._data.readinto(buffer)
        self.read_bytes += n
        return n


def refused_with(data: bytes, limits: ReadLimits) -> str:
    with pytest.raises(SettlementReportError) as refused:
        parse(data, limits=limits)
    return str(refused.value)


def test_a_period_keeping_more_records_than_its_bound_is_refused_as_it_streams() -> None:
    data = s0142("SPI|1|", *["TRA|T_UNIT-1|1.5|"] * 1_000_000, "SPI|2|")
    stream = CountingStream(data)
    report = parse_settlement_report(
        io.BufferedReader(stream), limits=ReadLimits(kept_per_period=50)
    )
    with pytest.raises(SettlementReportError) as refused:
        list(report.items())
    assert str(refused.value) == (
        "S0142 line 54 (TRA, settlement date 2026-05-06, period 1): settlement period 1 of the "
        "system keeps more than 50 records the ledger does not interpret (51 TRA); no real file "
        f"keeps that many there (LEDGER_MAX_KEPT_PER_PERIOD): {NOT_READ}"
    )
    assert stream.read_bytes < len(data) // 4  # refused before the rest was read


def test_the_bound_per_period_names_the_record_types_kept() -> None:
    body = [BPH_BRITGAS, "SP7|1|", "BP7|T_BRIT-1|", *["MVR|1|"] * 7, *["RUE|1|"] * 4]
    assert refused_with(s0142(*body), ReadLimits(kept_per_period=10)) == (
        "S0142 line 16 (RUE, party BRITGAS, settlement date 2026-05-06, period 1): settlement "
        "period 1 of bmu:T_BRIT-1 keeps more than 10 records the ledger does not interpret "
        f"(7 MVR, 4 RUE); no real file keeps that many there (LEDGER_MAX_KEPT_PER_PERIOD): "
        f"{NOT_READ}"
    )


def test_a_file_keeping_more_records_than_its_bound_is_refused() -> None:
    body = [line for p in (1, 2, 3) for line in (f"SPI|{p}|", *["TRA|T_UNIT-1|1.5|"] * 40)]
    assert refused_with(s0142(*body), ReadLimits(kept_per_file=100)) == (
        "S0142 line 106 (TRA, settlement date 2026-05-06, period 3): settlement period 3 of the "
        "system takes the file past 100 records the ledger does not interpret, kept as "
        f"received; no real file keeps that many (LEDGER_MAX_KEPT_PER_FILE): {NOT_READ}"
    )


def test_records_outside_any_period_are_bounded_as_one_period() -> None:
    body = [*["XYZ|1|"] * 6, "SPI|1|"]
    assert refused_with(s0142(*body), ReadLimits(kept_per_period=5)) == (
        "S0142 line 8 (XYZ, settlement date 2026-05-06): the file, outside any settlement "
        "period, keeps more than 5 records the ledger does not interpret (6 XYZ); no real "
        f"file keeps that many there (LEDGER_MAX_KEPT_PER_PERIOD): {NOT_READ}"
    )


def test_a_period_whose_kept_records_take_too_much_memory_is_refused() -> None:
    body = ["SPI|1|", *[f"TRA|{'X' * 60_000}|{n}|" for n in range(80)]]
    refusal = refused_with(s0142(*body), ReadLimits())
    assert refusal.startswith("S0142 line 73 (TRA, settlement date 2026-05-06, period 1): ")
    assert refusal.endswith(
        "settlement period 1 of the system keeps records the ledger does not interpret (70 TRA) "
        f"that take more than 4 MiB; no real file keeps that much there: {NOT_READ}"
    )


def test_fields_beyond_the_layout_count_as_kept() -> None:
    body = [BPH_BRITGAS, "SP7|1|", *[f"BP7|T_BRIT-{n}|{'|' * 30}x|" for n in range(1, 4)]]
    _, items = parse(s0142(*body))
    kept = [item.unconfirmed for item in items if isinstance(item, PeriodValues)]
    assert [list(k) for k in kept if k] == [["BP7@5"], ["BP7@6"], ["BP7@7"]]
    assert refused_with(s0142(*body), ReadLimits(kept_per_file=2)).startswith(
        "S0142 line 7 (BP7, party BRITGAS, settlement date 2026-05-06, period 1): settlement "
        "period 1 of bmu:T_BRIT-3 takes the file past 2 records"
    )


def test_a_market_shaped_report_keeps_far_less_than_the_bounds() -> None:
    """The parties of the market-size sample (scripts/bench.py, the real layout) with the most
    BM Units: the most any subject-period keeps is a small share of the default bound."""
    market_parties, market_units = market_size_ids()
    parties = sorted(market_parties, key=lambda p: -len(market_units[p]))[:4]
    _, data = generate(parties=parties, bm_units={p: market_units[p] for p in parties})
    report, items = parse(data)
    kept = [len(i.unconfirmed) for i in items if isinstance(i, PeriodValues | DailyValues)]
    assert 0 < max(kept) <= DEFAULT_KEPT_PER_PERIOD // 100
    sizes = [i.kept_size for i in items if isinstance(i, PeriodValues)]
    assert max(sizes) <= MAX_KEPT_BYTES // 100


# -- a creation time after the file's arrival --------------------------------------------------


def test_a_report_created_after_it_arrived_is_refused() -> None:
    data = s0142("SPI|1|")
    created = datetime(2026, 9, 22, 22, 44, 32, tzinfo=UTC)  # the AAA header's
    within = ReadLimits(arrival=created - timedelta(minutes=4))
    assert parse(data, limits=within)[0].header.creation_time == created
    early = created - timedelta(minutes=6)
    assert refused_with(data, ReadLimits(arrival=early)) == (
        "S0142 line 1 (AAA, settlement date 2026-05-06): the AAA header's creation time "
        "2026-09-22T22:44:32Z is later than the file's arrival (2026-09-22T22:38:32Z) by more "
        "than the 300 seconds allowed for clock skew (LEDGER_FUTURE_TOLERANCE_SECONDS): a "
        "version from the future would outrank every real one published after it, so the file "
        "is refused; check the sender's clock and send the file again"
    )
