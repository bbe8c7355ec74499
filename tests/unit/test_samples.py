"""The synthetic settlement reports: shaped like real S0142/S0141 version 013 files (record
order, field counts per the layout tables, envelope), internally consistent (BPI = BP7, SSD the
same under every party, SPI = SSD, APC = sums of PPC), gzipped under the portal's name,
deterministic, and matching the ``sample_*_values`` functions."""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.demo.samples import (
    FILE_TYPES,
    default_run_number,
    market_size_ids,
    portal_file_name,
    sample_bm_unit_period_values,
    sample_daily_values,
    sample_party_period_values,
    sample_system_period_values,
    write_portal_file,
    write_settlement_report,
)
from ledger.domain.identifiers import bm_unit_id, bsc_party_id
from ledger.domain.runs import SETTLEMENT_RUNS, RunType
from ledger.flows.idd import IddReader
from ledger.flows.portal_names import portal_name
from ledger.flows.record_layouts import RecordLayout, layout_for

DAY = date(2026, 2, 17)  # 48 periods
CREATED = datetime(2026, 9, 22, 22, 44, 32, tzinfo=UTC)
PARTIES = ["NGC", "BRITGAS", "20222033"]
UNITS = {
    "NGC": ["V__AFLEX001", "I_IFD-EZPD1"],
    "BRITGAS": ["2__FBPGM002", "T_DRAXX-1"],
    "20222033": ["C__BABCD001", "E_BLARW-1"],
}
SEED = 3
S0142, _ = layout_for("S0142013")
S0141, _ = layout_for("S0141013")

Line = tuple[str, list[str]]


def written(**overrides: Any) -> bytes:
    """A sample report written to memory: an R3 (run 5) S0142 of the test's parties, unless
    ``overrides`` say otherwise."""
    arguments: dict[str, Any] = {
        "flow": "S0142",
        "settlement_date": DAY,
        "run_type": RunType.R3,
        "run_number": 5,
        "parties": PARTIES,
        "bm_units": UNITS,
        "creation_time": CREATED,
        "seed": SEED,
    }
    out = io.BytesIO()
    write_settlement_report(out, **(arguments | overrides))
    return out.getvalue()


def s0142(*, revision: int = 0, seed: int = SEED, settlement_date: date = DAY) -> bytes:
    return written(revision=revision, seed=seed, settlement_date=settlement_date)


def s0141(party: str = "BRITGAS", *, settlement_date: date = DAY) -> bytes:
    return written(
        flow="S0141",
        settlement_date=settlement_date,
        run_type=RunType.SF,
        run_number=2,
        parties=[party],
    )


@pytest.fixture(scope="module")
def report() -> bytes:
    return s0142()


def lines(data: bytes) -> list[Line]:
    """(record type, fields) of every line, the trailing ``|`` checked and removed."""
    out = []
    for line in data.decode("ascii").split("\n")[:-1]:
        assert line.endswith("|"), line
        record_type, *fields = line[:-1].split("|")
        out.append((record_type, fields))
    return out


def in_context(data: bytes) -> Iterator[tuple[str, int, str, list[str]]]:
    """(party or "" in the system block, period, record type, fields) of every body record."""
    party, period = "", 0
    for record_type, fields in lines(data):
        if record_type == "BPH":
            party = fields[7]
        if record_type in ("SPI", "SP7", "SPH"):
            period = int(fields[0])
        yield party, period, record_type, fields


def record_sequence(data: bytes) -> str:
    return " ".join(record_type for record_type, _ in lines(data)) + " "


def values(record: RecordLayout, fields: list[str]) -> dict[str, Decimal]:
    return {
        f.name: Decimal(t) for f, t in zip(record.fields, fields, strict=True) if f.is_decimal and t
    }


# --- Shape --------------------------------------------------------------------------------------

S0142_ORDER = re.compile(
    r"AAA SRH "
    r"(SPI (MD1 ){2}(DB1 )*(TRA )+(BPI ){6}){48}"  # the system block, before any BPH
    r"(BPH APC "
    r"(SP7 SSD (MD2 ){2}PPC (DB2 )*(APD (APB )*){2}"
    r"(BP7 (RUE )?(RUI )?(RDE )?(RDI )?(BO4 )*(BO3 )*(MVR )?){2}){48}"
    r"){3}"
    r"ZZZ "
)
S0141_ORDER = re.compile(
    r"AAA SRH APC "
    r"(SPH PPC SSD (MD2 ){2}(DB2 )*(APD (APB )*){2}"
    r"(BPD (RUE )?(RUI )?(RDE )?(RDI )?(BOD BOS )*(BOA BO5 )*(MVR )?){2}){48}"
    r"ZZZ "
)


def test_s0142_records_come_in_the_real_files_order(report: bytes) -> None:
    assert S0142_ORDER.fullmatch(record_sequence(report))
    kinds = Counter(record_type for record_type, _ in lines(report))
    assert kinds["BPI"] == kinds["BP7"] == 48 * 6
    assert kinds["SP7"] == kinds["SSD"] == kinds["PPC"] == 48 * 3
    assert kinds["BPH"] == kinds["APC"] == 3
    # every kind of child the sample promises turns up in a day
    assert all(kinds[child] for child in ("RUE", "RUI", "RDE", "RDI", "BO4", "BO3", "MVR", "APB"))


def test_s0141_reports_one_party_in_idd_order() -> None:
    data = s0141()
    assert S0141_ORDER.fullmatch(record_sequence(data))
    body = lines(data)
    assert body[0][1][0] == "S0141013"
    assert body[1] == (
        "SRH",
        ["20260217", "SF", "2", "2", "20260217", "2", body[1][1][6], "BRITGAS"],
    )


@pytest.mark.parametrize("flow", ["S0141", "S0142"])
def test_every_record_has_the_layouts_field_count(report: bytes, flow: str) -> None:
    data, layout = (report, S0142) if flow == "S0142" else (s0141(), S0141)
    seen = set()
    for record_type, fields in lines(data):
        if record_type in ("AAA", "ZZZ") and flow == "S0141":
            continue
        assert len(fields) == len(layout.records[record_type].fields), record_type
        seen.add(record_type)
    assert FILE_TYPES[flow] == layout.file_type
    assert len(seen) >= 15


def test_fields_are_written_as_the_idd_prints_them(report: bytes) -> None:
    decimal_text = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?")
    typed = re.compile(r"(?:decimal|number)\((\d+)(?:,(\d+))?\)")
    for record_type, fields in lines(report):
        for field, text in zip(S0142.records[record_type].fields, fields, strict=True):
            if not text:
                assert not field.required or field.status == "?", (record_type, field.name)
            elif field.type == "boolean":
                assert text in ("T", "F"), (record_type, field.name, text)
            elif field.is_decimal:
                assert decimal_text.fullmatch(text), (record_type, field.name, text)
                match = typed.fullmatch(field.type)
                if match:  # within the declared precision and scale
                    precision, scale = int(match[1]), int(match[2] or 0)
                    whole, _, frac = text.lstrip("-").partition(".")
                    assert len(frac) <= scale, (record_type, field.name, text)
                    assert len(whole.lstrip("0")) <= precision - scale, (record_type, field.name)
            elif field.type.startswith("integer"):
                assert re.fullmatch(r"-?\d+", text), (record_type, field.name, text)


def test_the_envelope_verifies(report: bytes) -> None:
    reader = IddReader(io.BytesIO(report))
    records = list(reader)
    assert reader.record_count == len(records) + 2 == len(lines(report))
    assert reader.header.file_type == "S0142013"
    assert reader.header.creation_time == CREATED
    assert (reader.header.from_role, reader.header.from_participant) == ("SA", "UKDC")
    assert (reader.header.to_role, reader.header.to_participant) == ("PB", "PORTAL")
    assert reader.header.test_flag == "OPER"
    srh = lines(report)[1]
    assert srh[0] == "SRH" and srh[1][:6] == ["20260217", "R3", "5", "5", "20260217", "5"]
    assert srh[1][7] == "NGC" and srh[1][6].isdigit()
    bph = [fields for record_type, fields in lines(report) if record_type == "BPH"]
    assert [f[:7] for f in bph] == [srh[1][:7]] * 3
    assert [f[7] for f in bph] == PARTIES


def test_line_ends_and_bom_still_verify() -> None:
    data = written(
        flow="S0141",
        run_type=RunType.II,
        run_number=1,
        parties=["BRITGAS"],
        seed=0,
        line_end=b"\r\n",
        bom=True,
    )
    assert data.startswith(b"\xef\xbb\xbfAAA|S0141013|")
    reader = IddReader(io.BytesIO(data))
    assert len(list(reader)) + 2 == reader.record_count == data.count(b"\r\n")


# --- Consistency ----------------------------------------------------------------------------


def test_bpi_repeats_the_units_bp7_values(report: bytes) -> None:
    bpi = S0142.records["BPI"]
    bp7 = S0142.records["BP7"]
    shared = [(i, bp7.names.index(n)) for i, n in enumerate(bpi.names) if n in bp7.names]
    assert {bpi.names[i] for i, _ in shared} >= {
        "bm_unit_id",
        "period_fpn",
        "bm_unit_metered_volume",
        "transmission_loss_multiplier",
        "bm_unit_applicable_balancing_services_volume",
    }
    system: dict[tuple[str, int], list[str]] = {}
    parties: dict[tuple[str, int], list[str]] = {}
    for _, period, record_type, fields in in_context(report):
        if record_type == "BPI":
            system[fields[0], period] = fields
        elif record_type == "BP7":
            parties[fields[0], period] = fields
    assert system.keys() == parties.keys()
    for key, fields in system.items():
        assert [fields[i] for i, _ in shared] == [parties[key][j] for _, j in shared]
    assert system["2__FBPGM002", 1][1] == "DEFAULT__F"
    assert system["T_DRAXX-1", 1][1] == ""


def test_system_data_is_the_same_under_every_party_and_in_the_spi(report: bytes) -> None:
    spi: dict[int, list[str]] = {}
    ssd: dict[int, set[tuple[str, ...]]] = {}
    for _, period, record_type, fields in in_context(report):
        if record_type == "SPI":
            spi[period] = fields
        elif record_type == "SSD":
            ssd.setdefault(period, set()).add(tuple(fields))
    assert sorted(ssd) == sorted(spi) == list(range(1, 49))
    names = S0142.records["SSD"].names
    for period, copies in ssd.items():
        assert len(copies) == 1  # identical under every party
        (written,) = copies
        by_name = dict(zip(names, written, strict=True))
        assert by_name["system_sell_price"] == by_name["system_buy_price"]
        assert by_name["price_derivation_code"] in ("N", "P")
        shared = 0
        for name, text in zip(S0142.records["SPI"].names, spi[period], strict=True):
            if name in by_name:
                assert text == by_name[name], name
                shared += 1
        assert shared >= 30
        assert spi[period][0] == str(period)


def test_blanks_where_the_real_files_have_them(report: bytes) -> None:
    for record_type, fields in lines(report):
        if record_type == "PPC":
            assert fields[6] == fields[7] == ""
        elif record_type == "APC":
            assert fields[7] == fields[8] == fields[9] == ""
        elif record_type == "BP7" and not fields[0].startswith("V__"):
            assert fields[18:21] == ["", "", ""] and fields[22] == ""
        elif record_type == "SSD":
            assert all(fields[p - 1] == "" for p in (12, 15, 17, 20, 21, 22, *range(68, 75)))


def test_file_values_are_the_sample_values(report: bytes) -> None:
    ppc, ssd, bp7, apc = (S0142.records[r] for r in ("PPC", "SSD", "BP7", "APC"))
    days: dict[str, list[dict[str, Decimal]]] = {}
    for party, period, record_type, fields in in_context(report):
        if record_type == "PPC":
            found = values(ppc, fields)
            assert found == sample_party_period_values(DAY, party, period, seed=SEED)
            days.setdefault(party, []).append(found)
        elif record_type == "SSD" and party == "NGC":
            found = values(ssd, fields)
            assert found == sample_system_period_values(DAY, period, seed=SEED)
        elif record_type == "BP7":
            found = values(bp7, fields)
            assert found == sample_bm_unit_period_values(DAY, fields[0], period, seed=SEED)
        elif record_type == "APC":
            assert values(apc, fields) == sample_daily_values(DAY, party, seed=SEED)
    for party, periods in days.items():
        daily = sample_daily_values(DAY, party, seed=SEED)
        for name in ppc.names[:6]:
            assert daily[name] == sum((p[name] for p in periods), Decimal(0))


def test_supplier_compensation_is_volume_times_sourcing_cost() -> None:
    cost = sample_system_period_values(DAY, 1, seed=SEED)["supplier_sourcing_cost"]
    found = 0
    for period in range(1, 49):
        for unit in ("2__FBPGM002", "2__AABCD001", "2__PWXYZ123"):
            bp7 = sample_bm_unit_period_values(DAY, unit, period, seed=SEED)
            assert "final_demand" in bp7
            if "period_bm_unit_supplier_compensation_volume" in bp7:
                volume = bp7["period_bm_unit_supplier_compensation_volume"]
                cashflow = bp7["period_supplier_compensation_cashflow"]
                assert cashflow == (volume * cost).quantize(Decimal("0.01"))
                found += 1
    assert found


def test_the_daily_so_cashflow_belongs_to_the_system_operator() -> None:
    assert sample_daily_values(DAY, "NGC")["daily_system_operator_cashflow"] != 0
    assert sample_daily_values(DAY, "BRITGAS")["daily_system_operator_cashflow"] == 0


# --- Runs, determinism, revisions -----------------------------------------------------------


def test_default_run_numbers_count_every_run_of_the_day() -> None:
    assert [default_run_number(r) for r in SETTLEMENT_RUNS] == [1, 2, 3, 4, 5, 6, 7]
    assert default_run_number("R3") == 5


def test_the_same_arguments_give_the_same_bytes(report: bytes) -> None:
    assert s0142() == report
    assert s0142(seed=SEED + 1) != report


def test_every_revision_moves_the_values(report: bytes) -> None:
    revised = s0142(revision=1)
    assert len(lines(revised)) == len(lines(report))
    assert revised != report
    for period in (1, 17, 48):
        for party in PARTIES:
            assert sample_party_period_values(
                DAY, party, period, revision=1
            ) != sample_party_period_values(DAY, party, period)
        assert sample_system_period_values(DAY, period, revision=2) != sample_system_period_values(
            DAY, period, revision=1
        )
        for units in UNITS.values():
            for unit in units:
                assert sample_bm_unit_period_values(
                    DAY, unit, period, revision=1
                ) != sample_bm_unit_period_values(DAY, unit, period)
    assert sample_daily_values(DAY, "BRITGAS", revision=1) != sample_daily_values(DAY, "BRITGAS")


@pytest.mark.parametrize(("day", "periods"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)])
def test_clock_change_days_have_their_periods(day: date, periods: int) -> None:
    kinds = Counter(record_type for record_type, _ in lines(s0141(settlement_date=day)))
    assert kinds["SPH"] == kinds["PPC"] == kinds["SSD"] == periods
    kinds = Counter(record_type for record_type, _ in lines(s0142(settlement_date=day)))
    assert kinds["SPI"] == periods and kinds["SP7"] == 3 * periods


# --- Gzip and the portal's names ------------------------------------------------------------


def test_a_portal_file_is_gzipped_and_named_as_the_portal_names_it(
    report: bytes, tmp_path: Path
) -> None:
    path = write_portal_file(
        tmp_path,
        settlement_date=DAY,
        run_type=RunType.R3,
        parties=PARTIES,
        bm_units=UNITS,
        creation_time=CREATED,
        seed=SEED,
    )
    assert path.name == "S0142_20260217_R3_20260922224432.gz"
    assert path.name == portal_file_name("S0142", DAY, "R3", CREATED)
    name = portal_name(path.name)
    assert name is not None and name.gzipped
    assert (name.flow, name.settlement_date, name.run_type, name.creation_time) == (
        "S0142",
        DAY,
        "R3",
        CREATED,
    )
    compressed = path.read_bytes()
    assert compressed[:2] == b"\x1f\x8b"
    assert compressed[4:8] == b"\0\0\0\0"  # mtime 0: reproducible
    assert gzip.decompress(compressed) == report  # R3 is run 5 by default
    (tmp_path / "again").mkdir()
    again = write_portal_file(
        tmp_path / "again",
        settlement_date=DAY,
        run_type=RunType.R3,
        parties=PARTIES,
        bm_units=UNITS,
        creation_time=CREATED,
        seed=SEED,
    )
    assert again.read_bytes() == compressed


def test_gzip_streams_to_any_binary_output(report: bytes) -> None:
    compressed = written(gzip=True)
    with gzip.GzipFile(fileobj=io.BytesIO(compressed)) as unzipped:
        reader = IddReader(unzipped)  # type: ignore[arg-type]
        assert sum(1 for _ in reader) + 2 == reader.record_count
    assert gzip.decompress(compressed) == report


# --- Market-size identifiers ----------------------------------------------------------------


def test_market_size_ids_have_the_real_markets_size_and_shapes() -> None:
    parties, units = market_size_ids()
    assert len(parties) == len(set(parties)) == 479
    assert all(bsc_party_id(p) == p for p in parties)
    assert "NGC" in parties
    assert sum(p.isdigit() and len(p) == 8 for p in parties) > 50
    assert sum(len(p) == 8 and not p.isdigit() and not p.isalpha() for p in parties) > 150
    assert sum(p.isalpha() and len(p) < 8 for p in parties) > 30
    assert list(units) == parties
    everyone = [u for us in units.values() for u in us]
    assert len(everyone) == len(set(everyone)) == 7650
    assert {len(us) for us in units.values()} <= {15, 16}
    assert all(bm_unit_id(u) == u and len(u) <= 11 for u in everyone)
    prefixes = Counter(
        next(
            p
            for p in ("2__", "C__", "V__", "T__", "E__", "T_", "E_", "I_", "M_")
            if u.startswith(p)
        )
        for u in everyone
    )
    assert set(prefixes) == {"2__", "C__", "V__", "T__", "E__", "T_", "E_", "I_", "M_"}
    assert prefixes["2__"] > prefixes["C__"] > prefixes["I_"] > prefixes["T_"]
    shaped = re.compile(r"(2__|C__|V__|T__)[A-HJ-NP][A-Z0-9]{4}\d{3}")
    assert all(shaped.fullmatch(u) for u in everyone if u[:3] in ("2__", "C__", "V__", "T__"))
    assert market_size_ids() == (parties, units)
    assert market_size_ids(seed=1)[0] != parties
