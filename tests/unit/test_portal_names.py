"""Portal file names: what they promise, and what the file's header contradicts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.flows.portal_names import PortalName, name_disagreements, portal_name

CREATED = datetime(2018, 1, 17, 12, 16, 53, tzinfo=UTC)


@pytest.mark.parametrize(
    ("file_name", "gzipped"),
    [
        ("S0142_20171221_SF_20180117121653.gz", True),
        ("s0142_20171221_sf_20180117121653.GZ", True),
        ("S0142_20171221_SF_20180117121653", False),
        ("/downloads/S0142_20171221_SF_20180117121653.gz", True),
        ("C:\\Users\\me\\S0142_20171221_SF_20180117121653.gz", True),
    ],
)
def test_the_portal_s_names_are_read(file_name: str, gzipped: bool) -> None:
    assert portal_name(file_name) == PortalName("S0142", date(2017, 12, 21), "SF", CREATED, gzipped)


@pytest.mark.parametrize(
    "file_name",
    [
        "S0142_20171221_SF_20180117121653.txt",
        "S0142_20171321_SF_20180117121653.gz",  # month 13
        "S0142_20171221_XX_20180117121653.gz",
        "S0142_20171221_SF_2018011712165.gz",
        "report.gz",
        "",
    ],
)
def test_other_names_are_not_the_portal_s(file_name: str) -> None:
    assert portal_name(file_name) is None


def test_what_the_header_contradicts_is_said() -> None:
    name = portal_name("S0142_20171221_SF_20180117121653.gz")
    assert name is not None
    assert (
        name_disagreements(
            name,
            flow="S0142",
            settlement_date=date(2017, 12, 21),
            run_type="SF",
            creation_time=CREATED,
        )
        == []
    )
    found = name_disagreements(
        name,
        flow="S0141",
        settlement_date=date(2017, 12, 22),
        run_type="R1",
        creation_time=CREATED.replace(second=0),
    )
    assert found == [
        "flow S0142 (the file is S0141)",
        "settlement date 2017-12-21 (the file's is 2017-12-22)",
        "run SF (the file's is R1)",
        "creation time 2018-01-17 12:16:53 (the file's header says 2018-01-17 12:16:00)",
    ]
