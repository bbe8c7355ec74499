"""File names as Elexon's portal gives them, and what they promise about the file inside.

The P114 service names a settlement report ``S0142_<settlement date>_<run>_<created>.gz``,
e.g. ``S0142_20171221_SF_20180117121653.gz`` (settlement date, run type, creation time; see
the public profile of real portal files in jordan-dimov/grid-mysteries,
``archives/elexon-s0142/SCHEMA.md``, where the AAA creation time equals the name's stamp). The
name is a promise, not a fact: the ledger reads the file's own header, and a name that
disagrees with it is reported as a warning on the file (renamed, or the wrong file attached).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePosixPath, PureWindowsPath

__all__ = ["PortalName", "portal_name", "name_disagreements"]

_PATTERN = re.compile(
    r"(?P<flow>S\d{4})_(?P<date>\d{8})_(?P<run>II|SF|R1|R2|R3|RF|DF)_(?P<created>\d{14})"
    r"(?P<gz>\.gz)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PortalName:
    """What a portal file name says about the report inside it."""

    flow: str
    settlement_date: date
    run_type: str
    creation_time: datetime
    gzipped: bool


def portal_name(file_name: str) -> PortalName | None:
    """The portal's name of a file, read; None when the name is not in the portal's form."""
    # Only the last component: an upload may carry a client's path, either way round.
    base = PureWindowsPath(PurePosixPath(file_name).name).name
    match = _PATTERN.fullmatch(base)
    if match is None:
        return None
    try:
        settlement_date = datetime.strptime(match["date"], "%Y%m%d").date()
        created = datetime.strptime(match["created"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None  # digits in the right places, but not a calendar date
    return PortalName(
        flow=match["flow"].upper(),
        settlement_date=settlement_date,
        run_type=match["run"].upper(),
        creation_time=created,
        gzipped=match["gz"] is not None,
    )


def name_disagreements(
    name: PortalName,
    *,
    flow: str,
    settlement_date: date,
    run_type: str,
    creation_time: datetime,
) -> list[str]:
    """What the name promises that the file's own header contradicts (empty: nothing)."""
    found = []
    if name.flow != flow:
        found.append(f"flow {name.flow} (the file is {flow})")
    if name.settlement_date != settlement_date:
        found.append(
            f"settlement date {name.settlement_date.isoformat()} "
            f"(the file's is {settlement_date.isoformat()})"
        )
    if name.run_type != run_type:
        found.append(f"run {name.run_type} (the file's is {run_type})")
    if name.creation_time != creation_time:
        found.append(
            f"creation time {name.creation_time:%Y-%m-%d %H:%M:%S} "
            f"(the file's header says {creation_time:%Y-%m-%d %H:%M:%S})"
        )
    return found
