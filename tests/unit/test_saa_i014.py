"""The SAA-I014 settlement report parser (S0141, S0142), with the sample writer as its source."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.demo.samples import (
    sample_bm_unit_ids,
    sample_party_ids,
    sample_party_period_values,
    sample_system_period_values,
    write_settlement_report,
)
from ledger.domain.runs import RunType
from ledger.flows.idd import EnvelopeError, format_decimal, idd_checksum
from ledger.flows.saa_i014 import (
    APC_NAMES_V008,
    PPC_NAMES,
    SSD_NAMES,
    DailyValues,
    PeriodValues,
    ReportItem,
    SettlementReport,
    SettlementReportError,
    UnplacedRecord,
    parse_settlement_report,
)

CREATED = datetime(2026, 5, 7, 9, 30, tzinfo=UTC)
DAY = date(2026, 5, 6)
S0141_AAA = "AAA|S0141008|D|20260507093000|SA|UKDC|BP|BRIT|1|OPER|"
S0142_AAA = "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER|"
SRH_BRITGAS = "SRH|20260506|SF|2|2|20260506|2|2|BRITGAS|"
SRH_NGC = "SRH|20260506|SF|2|2|20260506|2|2|NGC|"
BPH_BRITGAS = "BPH|20260506|SF|2|2|20260506|2|2|BRITGAS|"
PPC = "PPC|10.5|-2000|300.25|0|1.5|-7|"
SSD = "SSD|20000|-15000.5|0|0|85.12345|85.12345|A|-123.456|"


def generate(**kwargs: object) -> bytes:
    out = io.BytesIO()
    params: dict[str, object] = {
        "flow": "S0142",
        "settlement_date": DAY,
        "run_type": RunType.SF,
        "run_number": 2,
        "parties": ["BRITGAS"],
        "creation_time": CREATED,
    }
    params.update(kwargs)
    write_settlement_report(out, **params)  # type: ignore[arg-type]
    return out.getvalue()


def parse(data: bytes) -> tuple[SettlementReport, list[ReportItem]]:
    report = parse_settlement_report(io.BytesIO(data))
    return report, list(report.items())


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


# -- generated files --------------------------------------------------------------------------


def test_generated_s0141() -> None:
    data = generate(flow="S0141", seed=3)
    report, items = parse(data)
    assert report.header.flow_id == "S0141"
    assert report.srh.bsc_party_id == "BRITGAS"
    assert report.srh.settlement_date == DAY
    assert report.srh.run_type is RunType.SF
    assert report.srh.saa_run_number == 2
    assert report.record_count == 2 + 1 + 48 * 3 + 1
    assert report.warnings == []

    daily = items[0]
    assert isinstance(daily, DailyValues)
    assert daily.subject == "party:BRITGAS"
    assert daily.record_position == 3
    assert list(daily.values) == list(APC_NAMES_V008)

    party = [i for i in items if isinstance(i, PeriodValues) and i.subject == "party:BRITGAS"]
    system = [i for i in items if isinstance(i, PeriodValues) and i.subject == "system"]
    assert [p.settlement_period for p in party] == list(range(1, 49))
    assert [p.settlement_period for p in system] == list(range(1, 49))
    assert len(items) == 1 + 48 + 48
    for item in party:
        expected = sample_party_period_values(DAY, "BRITGAS", item.settlement_period, seed=3)
        assert item.values == expected
        assert item.unconfirmed == {}
        assert item.record_position == 4 + 3 * (item.settlement_period - 1)
    for item in system:
        expected = sample_system_period_values(DAY, item.settlement_period, seed=3)
        assert item.values == expected
        assert item.attributes["price_derivation_code"] in {"A", "B", "N", "P"}
        assert list(item.unconfirmed) == ["SSD"]  # the net imbalance volume, kept raw
        Decimal(item.unconfirmed["SSD"][0])
    # The daily charges are the sums of the period charges.
    for name in PPC_NAMES:
        assert daily.values[name] == sum(p.values[name] for p in party)


def test_generated_s0142_subjects_and_periods() -> None:
    parties = sample_party_ids(3)
    units = {p: sample_bm_unit_ids(p, 2) for p in parties}
    report, items = parse(generate(parties=parties, bm_units=units, seed=1))
    assert report.srh.bsc_party_id == "NGC"
    assert report.warnings == []
    seen = Counter((i.subject, i.settlement_period) for i in items if isinstance(i, PeriodValues))
    expected_subjects = {"system"} | {f"party:{p}" for p in parties}
    expected_subjects |= {f"bmu:{u}" for us in units.values() for u in us}
    assert {s for s, _ in seen} == expected_subjects
    assert set(seen.values()) == {1}
    assert len(seen) == len(expected_subjects) * 48
    assert [i.subject for i in items if isinstance(i, DailyValues)] == [
        f"party:{p}" for p in parties
    ]
    assert not any(isinstance(i, UnplacedRecord) for i in items)

    first_system = next(i for i in items if isinstance(i, PeriodValues) and i.subject == "system")
    assert first_system.settlement_period == 1
    assert first_system.record_position == 3  # its SPI record
    assert list(first_system.unconfirmed) == ["SPI", "SSD"]
    assert first_system.values == sample_system_period_values(DAY, 1, seed=1)

    # Within a period: the party's values, the system data found under it, its BM Units.
    order = [
        (type(i).__name__, getattr(i, "subject", ""), getattr(i, "settlement_period", 0))
        for i in items[:6]
    ]
    first, unit_1, unit_2 = parties[0], *units[parties[0]]
    assert order == [
        ("DailyValues", f"party:{first}", 0),
        ("PeriodValues", f"party:{first}", 1),
        ("PeriodValues", "system", 1),
        ("PeriodValues", f"bmu:{unit_1}", 1),
        ("PeriodValues", f"bmu:{unit_2}", 1),
        ("PeriodValues", f"party:{first}", 2),
    ]

    unit = units[parties[0]][0]
    bmu = next(i for i in items if isinstance(i, PeriodValues) and i.subject == f"bmu:{unit}")
    assert bmu.values == {}
    assert bmu.attributes == {"bsc_party_id": parties[0]}
    assert set(bmu.unconfirmed) == {"BP7", "BPI"}
    assert len(bmu.unconfirmed["BP7"]) == 3
    for item in items:
        if isinstance(item, PeriodValues) and item.subject.startswith("party:"):
            party = item.subject.removeprefix("party:")
            assert item.values == sample_party_period_values(
                DAY, party, item.settlement_period, seed=1
            )


@pytest.mark.parametrize(("day", "periods"), [(date(2026, 10, 25), 50), (date(2026, 3, 29), 46)])
def test_clock_change_days(day: date, periods: int) -> None:
    for flow in ("S0141", "S0142"):
        data = generate(
            flow=flow,
            settlement_date=day,
            parties=["PTY00001"],
            bm_units={"PTY00001": ["T_PTY00001-1"]},
        )
        _, items = parse(data)
        for subject in ("system", "party:PTY00001"):
            got = [
                i.settlement_period
                for i in items
                if isinstance(i, PeriodValues) and i.subject == subject
            ]
            assert got == list(range(1, periods + 1))


def test_bom_and_crlf_generated() -> None:
    data = generate(flow="S0141", line_end=b"\r\n", bom=True)
    assert data.startswith(b"\xef\xbb\xbfAAA|") and b"\r\n" in data
    report, items = parse(data)
    assert len(items) == 97


def test_a_later_revision_changes_every_value() -> None:
    _, first = parse(generate(revision=0, bm_units={"BRITGAS": ["T_BRIT-1"]}))
    _, second = parse(generate(revision=1, bm_units={"BRITGAS": ["T_BRIT-1"]}))
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert not isinstance(a, UnplacedRecord) and not isinstance(b, UnplacedRecord)
        assert a.subject == b.subject
        for name, value in a.values.items():
            assert b.values[name] != value, (a.subject, name)
        for key, raw in a.unconfirmed.items():
            assert all(x != y for x, y in zip(raw, b.unconfirmed[key], strict=True)), key


def test_write_returns_record_count() -> None:
    out = io.BytesIO()
    n = write_settlement_report(
        out,
        flow="S0142",
        settlement_date=DAY,
        run_type=RunType.R1,
        run_number=1,
        parties=["A", "B"],
        bm_units={"A": ["E_A-1"]},
        creation_time=CREATED,
    )
    assert n == out.getvalue().count(b"\n") == 2 + 48 + 2 * (2 + 48 * 3) + 48 * 2 + 1
    assert parse(out.getvalue())[0].record_count == n


def test_sample_ids_are_valid() -> None:
    parties = sample_party_ids(3)
    assert parties == ["PTY00001", "PTY00002", "PTY00003"]
    assert sample_bm_unit_ids("PTY99999", 12)[-1] == "T_PTY99999-12"


def test_larger_s0142_parses() -> None:
    parties = sample_party_ids(50)
    units = {p: sample_bm_unit_ids(p, 4) for p in parties}
    report, items = parse(generate(parties=parties, bm_units=units))
    kinds = Counter(type(i).__name__ for i in items)
    assert kinds == {"PeriodValues": 48 + 50 * 48 + 200 * 48, "DailyValues": 50}
    assert report.record_count == 2 + 48 + 50 * (2 + 48 * 3) + 200 * 48 * 2 + 1


# -- real header lines, layouts and versions --------------------------------------------------


def test_domain_header_lines() -> None:
    data = build(
        [
            "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER",
            "SRH|20260217|R3|5|5|20260217|5|166705|NGC",
        ]
    )
    report, items = parse(data)
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


def test_srh_optional_fields_empty() -> None:
    report, _ = parse(s0142(srh="SRH|20260506|II|1|||||"))
    assert report.srh.saa_cdca_run_number is None
    assert report.srh.svaa_cdca_settlement_date is None
    assert report.srh.bsc_party_id is None


def test_handwritten_s0141_values_exactly() -> None:
    _, items = parse(s0141("APC|1|2|3|4|5|6|7|", "SPH|3|", PPC, SSD, "SPH|4|", "PPC||||||1|"))
    assert items == [
        DailyValues(
            "party:BRITGAS",
            {n: Decimal(i) for i, n in enumerate(APC_NAMES_V008, 1)},
            {},
            3,
        ),
        PeriodValues(
            "party:BRITGAS",
            3,
            dict(zip(PPC_NAMES, map(Decimal, PPC.split("|")[1:7]), strict=True)),
            {},
            {},
            4,
        ),
        PeriodValues(
            "system",
            3,
            dict(zip(SSD_NAMES, map(Decimal, SSD.split("|")[1:7]), strict=True)),
            {"price_derivation_code": "A"},
            {"SSD": ["-123.456"]},
            6,
        ),
        PeriodValues(
            "party:BRITGAS", 4, {"residual_cashflow_reallocation_charge": Decimal(1)}, {}, {}, 7
        ),
    ]


def test_s0141_version_009_renames_daily_so_cashflow_and_keeps_rr_fields() -> None:
    aaa = S0141_AAA.replace("S0141008", "S0141009")
    (daily,) = parse(s0141("APC|1|2|3|4|5|6|7|8.5|9|", aaa=aaa))[1]
    assert isinstance(daily, DailyValues)
    assert daily.values["daily_system_operator_cashflow"] == 7
    assert "daily_so_bm_cashflow" not in daily.values
    assert daily.unconfirmed == {"APC": ["8.5", "9"]}


def test_unknown_record_types_are_preserved() -> None:
    _, items = parse(
        s0142(
            "SPI|1|5|",
            "QQQ|system-ish|",
            "BPH|20260506|SF|2|2|20260506|2|2|BRITGAS|",
            "XX1|before periods|",
            "APC|1|2|3|4|5|6|7|",
            "SP7|1|extra|",
            PPC,
            "XX2|in the period|",
            SSD,
            "BP7|T_BRIT-1|9|",
            "BPI|1|",
            "BPI|2|",
            "XX3|in the unit|",
        )
    )
    by_subject = {(i.subject, i.settlement_period): i for i in items if isinstance(i, PeriodValues)}
    assert by_subject[("system", 1)].unconfirmed == {
        "SPI": ["5"],
        "QQQ": ["system-ish"],
        "SSD": ["-123.456"],
    }
    assert by_subject[("party:BRITGAS", 1)].unconfirmed == {
        "SP7": ["extra"],
        "XX2": ["in the period"],
    }
    assert by_subject[("bmu:T_BRIT-1", 1)].unconfirmed == {
        "BP7": ["9"],
        "BPI": ["1"],
        "BPI.1": ["2"],
        "XX3": ["in the unit"],
    }
    assert [i for i in items if isinstance(i, UnplacedRecord)] == [
        UnplacedRecord(6, "XX1", ["before periods"])
    ]


def test_spi_without_ssd_still_reported() -> None:
    _, items = parse(s0142("SPI|1|5|", "SPI|2|6|"))
    assert items == [
        PeriodValues("system", 1, {}, {}, {"SPI": ["5"]}, 3),
        PeriodValues("system", 2, {}, {}, {"SPI": ["6"]}, 4),
    ]


def test_repeated_system_data_is_reported_once_and_differences_are_warned() -> None:
    other = SSD.replace("85.12345", "99")
    britgas = [BPH_BRITGAS, "SP7|1|", SSD, "SP7|2|", SSD]
    edf = [BPH_BRITGAS.replace("BRITGAS", "EDF"), "SP7|1|", SSD, "SP7|2|", other]
    report, items = parse(s0142(*britgas, *edf))
    systems = [i for i in items if isinstance(i, PeriodValues) and i.subject == "system"]
    assert [s.settlement_period for s in systems] == [1, 2]
    assert systems[1].values["system_buy_price"] == Decimal("85.12345")
    assert len(report.warnings) == 1
    assert "period 2 under party EDF differs" in report.warnings[0]


def test_empty_optional_decimals_are_absent() -> None:
    _, items = parse(s0141("SPH|1|", "PPC|1||||||", "SSD|||||||"))
    assert items[1] == PeriodValues("system", 1, {}, {}, {}, 5)
    assert items[0] == PeriodValues(
        "party:BRITGAS", 1, {"bssc_limited_cost_allocation": Decimal(1)}, {}, {}, 3
    )


# -- rejections -------------------------------------------------------------------------------


def test_unknown_run_type() -> None:
    message = rejected(s0141(srh="SRH|20260506|R9|2|2|20260506|2|2|BRITGAS|"))
    assert message.startswith("S0141 line 2 (SRH, settlement date 2026-05-06): ")
    assert "unknown settlement run type 'R9'; expected one of II, SF, R1" in message


def test_invalid_settlement_date() -> None:
    message = rejected(s0141(srh="SRH|20260230|SF|2|2|20260506|2|2|BRITGAS|"))
    assert (
        message == "S0141 line 2 (SRH): settlement date '20260230' is not a valid date (YYYYMMDD)"
    )


def test_period_out_of_range_for_the_day() -> None:
    message = rejected(s0141("SPH|49|"))
    assert message == (
        "S0141 line 3 (SPH, party BRITGAS, settlement date 2026-05-06): settlement period 49 "
        "does not exist on 2026-05-06, which has 48 periods"
    )
    spring = "SRH|20260329|SF|2|2|20260329|2|2|NGC|"
    message = rejected(s0142(BPH_BRITGAS.replace("20260506", "20260329"), "SP7|47|", srh=spring))
    assert "S0142 line 4 (SP7, party BRITGAS, settlement date 2026-03-29)" in message
    assert "which has 46 periods" in message
    autumn = "SRH|20261025|SF|2|2|20261025|2|2|NGC|"
    assert parse(s0142("SPI|50|", srh=autumn))[1][0].settlement_period == 50  # type: ignore[union-attr]
    assert "period 'x' is not a whole number" in rejected(s0141("SPH|x|"))


def test_malformed_decimal() -> None:
    message = rejected(s0141("SPH|3|", "PPC|1|2|12.x5|4|5|6|"))
    assert message == (
        "S0141 line 4 (PPC, party BRITGAS, settlement date 2026-05-06, period 3): "
        "energy_imbalance_cashflow '12.x5' is not a decimal number"
    )
    assert "system_buy_price 'NaN' is not a decimal number" in rejected(
        s0141("SPH|3|", "SSD|1|2|3|4|NaN|5|A|")
    )
    assert "'1e5' is not a decimal number" in rejected(s0141("APC|1e5|"))


def test_invalid_party_and_bm_unit_ids() -> None:
    message = rejected(s0142("BPH|20260506|SF|2|2|20260506|2|2|TOOLONGPARTY|"))
    assert message.startswith("S0142 line 3 (BPH, settlement date 2026-05-06): ")
    assert "'TOOLONGPARTY' is not a BSC Party Id" in message
    message = rejected(s0142(BPH_BRITGAS, "SP7|1|", "BP7|X_NOPE|"))
    assert message.startswith("S0142 line 5 (BP7, party BRITGAS, settlement date 2026-05-06, ")
    assert "'X_NOPE' is not a BM Unit Id" in message
    assert "must name the BSC Party" in rejected(s0141(srh="SRH|20260506|SF|2|2|20260506|2|2||"))


def test_records_outside_a_period() -> None:
    assert "PPC record outside a settlement period" in rejected(s0141(PPC))
    assert "SSD record outside a settlement period" in rejected(s0141(SSD))
    message = rejected(s0142(BPH_BRITGAS, "BP7|T_BRIT-1|"))
    assert message == (
        "S0142 line 4 (BP7, party BRITGAS, settlement date 2026-05-06): "
        "BP7 record outside a settlement period"
    )
    assert "BPI record without a BP7" in rejected(s0142(BPH_BRITGAS, "SP7|1|", "BPI|1|"))
    assert "PPC record after BM Unit records" in rejected(
        s0142(BPH_BRITGAS, "SP7|1|", "BP7|T_BRIT-1|", PPC)
    )
    assert "second PPC record" in rejected(s0141("SPH|1|", PPC, PPC))
    assert "SP7 record before any party (BPH)" in rejected(s0142("SP7|1|"))
    assert "APC record before any party (BPH)" in rejected(s0142("APC|1|"))


def test_bph_must_match_the_report_header() -> None:
    message = rejected(s0142(BPH_BRITGAS.replace("|SF|", "|R1|")))
    assert "run type 'R1' differs from the report header's SF" in message


def test_wrong_flow_type() -> None:
    data = build(["AAA|S0043001|D|20260507093000|SA|UKDC|BP|BRIT|1|OPER|", SRH_BRITGAS])
    assert rejected(data) == (
        "file type 'S0043001' is not an SAA-I014 settlement report (expected S0141, S0142, S0144)"
    )


def test_missing_srh() -> None:
    assert "expected the SRH settlement report header, found 'SPH'" in rejected(s0141(srh="SPH|1|"))


def test_envelope_errors_propagate_at_the_end() -> None:
    data = generate(flow="S0141").replace(b"SPH|48|", b"SPH|47|")
    report = parse_settlement_report(io.BytesIO(data))
    items = report.items()
    assert isinstance(next(items), DailyValues)  # items stream before the checksum is known
    with pytest.raises(EnvelopeError, match="S0141: checksum mismatch"):
        list(items)
    with pytest.raises(RuntimeError):
        report.record_count  # noqa: B018
    with pytest.raises(EnvelopeError, match="S0141: file ends after line"):
        parse(generate(flow="S0141").rsplit(b"ZZZ", 1)[0])


def test_items_can_be_read_once() -> None:
    report = parse_settlement_report(io.BytesIO(s0141()))
    list(report.items())
    with pytest.raises(RuntimeError):
        report.items()


# -- round trip property ----------------------------------------------------------------------

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
    ppc=st.lists(st.one_of(st.none(), money), min_size=6, max_size=6),
    ssd=st.lists(st.one_of(st.none(), price), min_size=6, max_size=6),
)
def test_written_decimals_read_back_losslessly(
    ppc: list[Decimal | None], ssd: list[Decimal | None]
) -> None:
    def text(values: list[Decimal | None]) -> str:
        return "|".join("" if v is None else format_decimal(v) for v in values)

    _, items = parse(s0141("SPH|1|", f"PPC|{text(ppc)}|", f"SSD|{text(ssd)}|N|"))
    party, system = items
    assert isinstance(system, PeriodValues) and isinstance(party, PeriodValues)
    assert party.values == {n: v for n, v in zip(PPC_NAMES, ppc, strict=True) if v is not None}
    assert system.values == {n: v for n, v in zip(SSD_NAMES, ssd, strict=True) if v is not None}


@pytest.mark.parametrize("body", [["SPH|" + "1" * 5000 + "|"]], ids=["period of 5,000 digits"])
def test_a_whole_number_too_long_to_be_one_is_a_business_error(body: list[str]) -> None:
    message = rejected(s0141(*body))
    assert "is not a whole number" in message
    assert len(message) < 400


def test_a_run_number_too_long_to_be_one_is_a_business_error() -> None:
    message = rejected(s0141(srh="SRH|20260506|SF|" + "2" * 5000 + "|2|20260506|2|2|BRITGAS|"))
    assert "SAA run number" in message and "is not a whole number" in message
