"""Market identifiers: MPAN cores, GSP Groups, BM Units, BSC Parties and subjects."""

import pytest

from ledger.domain.errors import InvalidIdentifier
from ledger.domain.identifiers import (
    GSP_GROUPS,
    Subject,
    bm_unit_id,
    bm_unit_kind,
    bsc_party_id,
    gsp_group,
    mpan_check_digit,
    mpan_core,
    tenant_id,
)


def test_mpan_check_digit_vectors() -> None:
    assert mpan_check_digit("249999999999") == 1
    assert mpan_core(" 2499999999991 ") == "2499999999991"


def test_mpan_with_wrong_check_digit_names_the_expected_one() -> None:
    with pytest.raises(InvalidIdentifier, match="check digit 0, expected 1"):
        mpan_core("2499999999990")


@pytest.mark.parametrize(
    "text",
    ["249999999999A", "249999999999", "24999999999910", "", "٢٤٩٩٩٩٩٩٩٩٩٩١", "249999999999²"],
)
def test_mpan_must_be_thirteen_ascii_digits(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="13 digits"):
        mpan_core(text)


def test_gsp_groups() -> None:
    assert len(GSP_GROUPS) == 14
    assert gsp_group("_a") == "_A"
    assert gsp_group("_P") == "_P"


@pytest.mark.parametrize("text", ["_I", "_O", "_Q", "A", "", "__A"])
def test_gsp_group_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        gsp_group(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("T_DRAXX-1", "transmission"),
        ("t_draxx-1", "transmission"),
        ("T__ABC", "transmission"),
        ("E_ABC-1", "embedded"),
        ("E__ABC", "embedded"),
        ("I_IFD-FRAN1", "interconnector"),
        ("2__FBPGM001", "supplier base"),
        ("C__ABCDE001", "additional supplier"),
        ("V__AFLEX001", "secondary (VLP)"),
        ("M_ABC", "miscellaneous"),
    ],
)
def test_bm_unit_ids(text: str, kind: str) -> None:
    assert bm_unit_id(text) == text.upper()
    assert bm_unit_kind(text) == kind


@pytest.mark.parametrize(
    "text", ["X_FOO", "T_", "2_FBPGM001", "V_AFLEX001", "T_ABC DEF", "T_ABCDEFGHIJKLMNOP", ""]
)
def test_bm_unit_id_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        bm_unit_id(text)
    with pytest.raises(InvalidIdentifier):
        bm_unit_kind(text)


@pytest.mark.parametrize("text", ["NGC", "BRITGAS", "britgas", "AB_1-2"])
def test_party_ids(text: str) -> None:
    assert bsc_party_id(text) == text.upper()


@pytest.mark.parametrize("text", ["", "TOOLONGID", "BRIT GAS", "A.B"])
def test_party_id_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        bsc_party_id(text)


@pytest.mark.parametrize(
    "text", ["system", "party:BRITGAS", "bmu:T_DRAXX-1", "bmu:2__FBPGM001", "mpan:2499999999991"]
)
def test_subject_round_trip(text: str) -> None:
    subject = Subject.parse(text)
    assert str(subject) == text
    assert Subject.parse(str(subject)) == subject


def test_subject_normalises() -> None:
    assert Subject.parse(" Party:britgas ") == Subject("party", "BRITGAS")
    assert Subject.parse("SYSTEM") == Subject("system")


@pytest.mark.parametrize(
    "text", ["foo:bar", "party:", "party", "bmu:X_FOO", "mpan:2499999999990", "", "system:x"]
)
def test_subject_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Subject.parse(text)


@pytest.mark.parametrize("text", ["default", "acme", "acme-energy.uk", "t_1", "9lives"])
def test_tenant_names(text: str) -> None:
    assert tenant_id(text) == text


@pytest.mark.parametrize("text", ["", "Acme", "acme corp", "-acme", "a" * 64, "acme/../b", "é"])
def test_tenant_name_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="is not a tenant name"):
        tenant_id(text)


@pytest.mark.parametrize(
    "text", ["acme\n", "acme\r\n", "\nacme", "acme ", " acme", "acme\x00", "acme\t"]
)
def test_tenant_name_with_surrounding_whitespace_is_refused(text: str) -> None:
    # "acme\n" used to be accepted as a tenant other than "acme" (re.match with "$").
    with pytest.raises(InvalidIdentifier, match="is not a tenant name"):
        tenant_id(text)


@pytest.mark.parametrize("text", ["ß", "ẞ", "ﬀ", "BRITGAS\u0131", "ÄB"])
def test_party_id_refuses_letters_that_upper_case_into_ascii(text: str) -> None:
    # "ß".upper() == "SS": a non-ASCII id must not turn into another party's id.
    with pytest.raises(InvalidIdentifier, match="is not a BSC Party Id"):
        bsc_party_id(text)


@pytest.mark.parametrize("text", ["T_ﬀ", "T_DRAXß", "T_DRAXX-1\u0307"])
def test_bm_unit_id_refuses_non_ascii(text: str) -> None:
    with pytest.raises(InvalidIdentifier, match="is not a BM Unit Id"):
        bm_unit_id(text)


def test_identifiers_are_stripped_of_surrounding_whitespace_only() -> None:
    # Party and BM Unit ids are normalised (stripped, upper-cased); inner text is not.
    assert bsc_party_id("ngc\n") == "NGC"
    assert bm_unit_id("\tt_draxx-1\n") == "T_DRAXX-1"
    assert Subject.parse("party:ngc\n") == Subject("party", "NGC")
    with pytest.raises(InvalidIdentifier):
        bsc_party_id("NG\nC")
    with pytest.raises(InvalidIdentifier):
        bm_unit_id("T_DRAX\nX-1")
