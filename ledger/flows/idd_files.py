"""Any other IDD pipe file (an ``AAA`` header, a ``ZZZ`` trailer): kept, not interpreted.

The BSC Central Systems send many flows in the IDD's pipe format besides the settlement
reports (CDCA, SVAA, ECVAA flows such as E0041 or P0210). The ledger validates their envelope
(the header, the record count and the XOR checksum in the trailer: ``../DOMAIN.md`` section
"IDD pipe files", as :mod:`ledger.flows.idd` reads them) and keeps them as received, raised as
not interpreted, so that nothing the market sends is lost or taken for garbage. The SAA-I014
settlement reports have a format of their own (:mod:`ledger.flows.saa_i014`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import IO

from ledger.domain.runs import noted_after_arrival
from ledger.flows.canonical import (
    Check,
    FileDescription,
    Item,
    ReadLimits,
    ReportsWarnings,
    Stated,
    Warnings,
    not_applicable,
)
from ledger.flows.idd import IddReader, envelope_checks
from ledger.flows.saa_i014 import FORMAT as SETTLEMENT_REPORTS


class IddFile(ReportsWarnings):
    """An IDD file the ledger keeps without interpreting: its envelope, then its records
    read through once to verify the count and checksum."""

    def __init__(self, reader: IddReader, limits: ReadLimits | None = None) -> None:
        self._reader = reader
        header = reader.header
        reader.flow_label = f"{header.flow_id} file"
        limits = limits or ReadLimits()
        self.found = Warnings(limits.max_warnings)
        noted = noted_after_arrival(
            "the AAA header's creation time",
            header.creation_time,
            limits.arrival,
            limits.future_tolerance,
        )
        if noted is not None:
            self.found.add("a creation time after the file's arrival", f"{header.flow_id}: {noted}")
        self._description = FileDescription(
            format=FORMAT.name,
            flow=header.flow_id,
            flow_version=header.flow_version,
            file_creation_time=header.creation_time,
            sender=f"{header.from_role} {header.from_participant}".strip(),
            not_interpreted=(
                f"{header.flow_id} (version {header.flow_version}) is an IDD flow the ledger "
                "keeps as received but does not interpret"
            ),
        )

    @property
    def description(self) -> FileDescription:
        return self._description

    @property
    def record_count(self) -> int:
        count = self._reader.record_count
        if count is None:
            raise RuntimeError("the record count is known only once items() is exhausted")
        return count

    @property
    def checks(self) -> list[Check]:
        """The envelope's checks; nothing of the content is read, so nothing else applies."""
        unread = "the flow is kept, not interpreted: its content is not read"
        return [
            *envelope_checks(self._reader),
            not_applicable("layout version", unread),
            not_applicable("day length", unread),
            not_applicable("duplicates", unread),
        ]

    def items(self) -> Iterator[Item]:
        for _record in self._reader:
            pass
        return
        yield  # an iterator that yields nothing: the file is validated, not interpreted


class IddFileFormat:
    """Files that open with an IDD ``AAA`` header naming no settlement report."""

    name = "idd"
    units: Mapping[str, str] = MappingProxyType({})  # kept, never read into measures

    def recognises(self, head: bytes) -> bool:
        return head.startswith(b"AAA") and not SETTLEMENT_REPORTS.recognises(head)

    def read(
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> IddFile:
        read = IddFile(IddReader(stream, flow_label=file_name or "IDD file"), limits)
        if stated is not None:
            stated.flow = read.description.flow
        return read


FORMAT = IddFileFormat()
