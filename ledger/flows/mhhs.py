"""MHHS messages over the Data Integration Platform (DIP): the JSON envelope (``CommonBlock``)
is validated and the message mapped to the metering system it is about; bodies are kept as
received, not interpreted.

The envelope, as public evidence shows it:

- ``CommonBlock.S0``: ``interfaceID`` (``IF-`` and three digits), ``schemaVersion`` (three
  digits, ``009`` and ``011`` seen) and ``eventCode``; ``S1``: ``environmentTag``, ``subText``,
  ``senderUniqueReference``, ``senderTimestamp`` (ISO 8601 with an offset),
  ``senderDIPID``, ``senderRoleID`` (``SUP``, ``REGS``, ``SDS``, ...), ``senderCorrelationID``,
  ``DIPConnectionProviderID``; ``A0``: ``primaryRecipients``, ``secondaryRecipients`` and
  ``always`` (lists of DIP ids); ``D0`` (added by the DIP on publication): ``transactionID``,
  ``transactionTimestamp``, ``publicationID``, ``initialCorrelationID``, ``replayIndicator``,
  ``serviceTicketURL``; ``M0``: ``MPANCore``, ``distributorDIPID``, ``GSPGroupID``; then a
  ``CustomBlock`` of numbered data blocks (``B044``, ``B900``, ...). Sources: examples generated
  from Elexon's DIP API specification 2.2.1 in Nickymosh1/DIPScopeV1,
  ``js/messageExamplesData.js`` (with ``js/dipStructure.js``: S0, S1 and M0 required, A0 and
  D0 present, D0 "added/updated by the DIP on publication/egress"); a simulator request in
  sureserve-energy-services/mhhs-simulator, ``requests/if-033.json``; an IF-041 test payload in
  reachtonavakanth/mhhs_poc, ``payload/if-041.json``.
- Where the sources differ, both forms are read: ``eventCode`` is a text in brackets
  (``"[ActivePower]"``, the published enum) or a list of texts (``["ReadingCos"]``); the GSP
  Group is ``GSPGroupID`` or ``gspGroupID``; a message may come wrapped as ``{"payload":
  {...}}`` (the specification's examples, the simulator) or bare.
- Some interfaces carry ``M1`` (``principalMPAN``) instead of ``M0`` (IF-019, IF-020), and some
  are about no metering system at all (IF-022, IF-023 load shapes): a message without either is
  valid and maps to no metering system.
- Elexon's own example pairs MPAN ``2000056535971`` (distributor 20, Southern) with GSP Group
  ``_A`` (Eastern): a GSP Group that does not match a licensed distributor's MPAN is therefore
  a warning, not a refusal.

Bodies: the IF-021 (half-hourly consumption) example shows ``B900`` with a measurement quantity
and ``settlementDayConsumptionPeriods`` of ``{"sp", "v", "q", "e", "arc"}``, but its values are
placeholders (``sp`` is a date and time there) and the specification's own example is said to
use ``B900List`` instead; the field meanings are not confirmed. So no body is interpreted: every
message is recorded as not interpreted, its bytes kept and its metering system named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import IO, Any

from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import GSP_GROUPS, gsp_group, mpan_core
from ledger.domain.plain_text import excerpt, plain_text
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
from ledger.flows.json_documents import json_kind, load_json, read_instant, starts_as_json

__all__ = [
    "FORMAT",
    "KNOWN_SCHEMA_VERSIONS",
    "DipMessage",
    "DipMessageError",
    "Envelope",
    "read_dip_message",
]

# Schema versions seen in the sources above (009, 011) and the one between them.
KNOWN_SCHEMA_VERSIONS = ("009", "010", "011")
_INTERFACE = re.compile(r"IF-\d{3}", re.ASCII)
_SCHEMA_VERSION = re.compile(r"\d{3}", re.ASCII)
# DIP ids are 10 digits in the specification's examples; test payloads show 9 and 11.
_DIP_ID = re.compile(r"\d{1,20}", re.ASCII)
_ROLE = re.compile(r"[A-Z]{2,5}", re.ASCII)
_EVENT = re.compile(r"\[?([A-Za-z0-9][A-Za-z0-9_-]{0,79})\]?", re.ASCII)
_RECIPIENT_LISTS = ("primaryRecipients", "secondaryRecipients", "always")
_MAX_TEXT = 255
_MAX_REFERENCE_SHOWN = 80  # the specification's references are about 50 characters


class DipMessageError(LedgerError, ValueError):
    """A DIP message's envelope is invalid; the message says which part, in business terms."""


@dataclass
class Envelope:
    """What a DIP message's CommonBlock says."""

    interface: str
    schema_version: str
    event_codes: list[str]
    sender_unique_reference: str
    sender_timestamp: datetime
    sender_dip_id: str
    sender_role: str
    environment: str
    mpan: str | None = None
    gsp_group: str | None = None
    recipients: list[str] = field(default_factory=list)


class DipMessage(ReportsWarnings):
    """One DIP message: its envelope validated when read; it yields no items (its body is
    not interpreted), and its description names the metering system it is about."""

    def __init__(self, envelope: Envelope, warnings: Warnings) -> None:
        self.envelope = envelope
        self.found = warnings
        self._read = False

    @property
    def description(self) -> FileDescription:
        envelope = self.envelope
        subject = f"mpan:{envelope.mpan}" if envelope.mpan else None
        return FileDescription(
            format=FORMAT.name,
            flow=envelope.interface,
            flow_version=envelope.schema_version,
            file_creation_time=envelope.sender_timestamp,
            sender=f"{envelope.sender_role}/{envelope.sender_dip_id}",
            subject=subject,
            not_interpreted=_not_interpreted(envelope),
        )

    @property
    def record_count(self) -> int:
        """One: a DIP message is one record."""
        return 1

    @property
    def checks(self) -> list[Check]:
        """What validation applied to the message: its envelope (a defect in it refuses the
        message); its body is not interpreted."""
        envelope = self.envelope
        version = envelope.schema_version
        known = version in KNOWN_SCHEMA_VERSIONS
        about = f", MPAN {envelope.mpan} (check digit, GSP Group)" if envelope.mpan else ""
        sent_to = f", {len(envelope.recipients)} recipients" if envelope.recipients else ""
        unread = "the message's body is not interpreted"
        return [
            Check(
                "envelope",
                "passed",
                f"CommonBlock S0 ({envelope.interface}), S1 (sender {envelope.sender_role} "
                f"{envelope.sender_dip_id}){sent_to}{about}",
            ),
            not_applicable("record count", "a DIP message is one JSON document, with no count"),
            not_applicable("checksum", "a DIP message carries none"),
            Check(
                "layout version",
                "passed" if known else "warning",
                f"schema version {version} is "
                + ("one the ledger knows" if known else "not one the ledger has evidence of"),
            ),
            not_applicable("day length", unread),
            not_applicable("duplicates", unread),
        ]

    def items(self) -> Iterator[Item]:
        """Nothing: the ledger does not interpret DIP message bodies (read once)."""
        if self._read:
            raise RuntimeError("a message's items can be read only once")
        self._read = True
        return iter(())


def _not_interpreted(envelope: Envelope) -> str:
    event = f" ({', '.join(envelope.event_codes)})" if envelope.event_codes else ""
    if envelope.mpan is None:
        return (
            f"{envelope.interface}{event} messages are kept, but their body is not interpreted "
            "by the ledger; this one names no metering system"
        )
    return (
        f"{envelope.interface}{event} messages are kept and mapped to MPAN {envelope.mpan} "
        f"(GSP Group {envelope.gsp_group}), but their body is not interpreted by the ledger"
    )


def read_dip_message(
    stream: IO[bytes],
    *,
    file_name: str | None = None,
    stated: Stated | None = None,
    limits: ReadLimits | None = None,
) -> DipMessage:
    """Read one MHHS DIP message (JSON) from a binary stream and validate its envelope;
    ``stated`` is kept up with its interface and the metering system it names."""
    label = f"MHHS DIP message {excerpt(file_name)}" if file_name else "MHHS DIP message"
    common = _common_block(load_json(stream, label=label), label)
    return _EnvelopeReader(
        label, common, stated if stated is not None else Stated(), limits or ReadLimits()
    ).read()


def _common_block(document: Any, label: str) -> dict[str, Any]:
    if isinstance(document, list):
        if len(document) != 1:
            raise DipMessageError(
                f"{label} holds {len(document)} messages; the ledger takes one DIP message per "
                "file, send each on its own"
            )
        document = document[0]
    if isinstance(document, dict) and "CommonBlock" not in document:
        document = document.get("payload", document)
    common = document.get("CommonBlock") if isinstance(document, dict) else None
    if not isinstance(common, dict):
        raise DipMessageError(
            f"{label} has no CommonBlock object (S0, S1, M0, ...); it is not a DIP message"
        )
    return common


def _shown(value: Any) -> str:
    """A JSON value as a message shows it: a quoted excerpt of a text, else what it is."""
    if value is None:
        return "missing"
    return excerpt(value) if isinstance(value, str) else json_kind(value)


class _EnvelopeReader:
    """Reads the CommonBlock block by block; messages name the interface and the sender's
    reference as soon as they are known."""

    def __init__(
        self, label: str, common: dict[str, Any], stated: Stated, limits: ReadLimits
    ) -> None:
        self.label = label
        self.common = common
        self.limits = limits
        self.warnings = Warnings(limits.max_warnings)
        self.stated = stated

    def error(self, path: str, message: str) -> DipMessageError:
        return DipMessageError(f"{self.label}: {message} (CommonBlock.{path})")

    def read(self) -> DipMessage:
        s0 = self.block("S0", required=True)
        interface = self.pattern(s0, "S0", "interfaceID", _INTERFACE, "an interface id (IF-021)")
        self.label = f"{interface} message"
        self.stated.flow = interface
        schema_version = self.schema_version(s0)
        events = self.event_codes(s0.get("eventCode"))
        s1 = self.block("S1", required=True)
        reference = self.text(s1, "S1", "senderUniqueReference")
        self.label = f"{interface} message {excerpt(reference, _MAX_REFERENCE_SHOWN)}"
        envelope = Envelope(
            interface=interface,
            schema_version=schema_version,
            event_codes=events,
            sender_unique_reference=reference,
            sender_timestamp=self.instant(s1, "S1", "senderTimestamp"),
            sender_dip_id=self.pattern(s1, "S1", "senderDIPID", _DIP_ID, "a DIP id (digits)"),
            sender_role=self.pattern(s1, "S1", "senderRoleID", _ROLE, "a role (e.g. SUP)"),
            environment=self.text(s1, "S1", "environmentTag"),
        )
        envelope.recipients = self.recipients()
        self.delivery()
        self.metering_system(envelope)
        self.sent_before_arrival(envelope.sender_timestamp)
        return DipMessage(envelope, self.warnings)

    def sent_before_arrival(self, sent: datetime) -> None:
        """A message sent after it arrived: the sender's clock is wrong (a warning: the
        message's time ranks no version)."""
        limits = self.limits
        noted = noted_after_arrival(
            "S1.senderTimestamp", sent, limits.arrival, limits.future_tolerance
        )
        if noted is not None:
            self.warnings.add(
                "a sending time after the message's arrival", f"{self.label}: {noted}"
            )

    # -- blocks and fields ----------------------------------------------------------------

    def block(self, name: str, *, required: bool = False) -> dict[str, Any]:
        value = self.common.get(name)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.error(name, f"the {name} block is {_shown(value)}, not an object of fields")
        return value

    def text(self, block: dict[str, Any], where: str, name: str) -> str:
        value = block.get(name)
        if not isinstance(value, str):
            raise self.error(f"{where}.{name}", f"{name} is {_shown(value)}, not a text")
        try:
            return plain_text(value, name, max_length=_MAX_TEXT)
        except LedgerError as exc:
            raise self.error(f"{where}.{name}", str(exc)) from None

    def pattern(
        self, block: dict[str, Any], where: str, name: str, shape: re.Pattern[str], what: str
    ) -> str:
        value = self.text(block, where, name).strip()
        if not shape.fullmatch(value):
            raise self.error(f"{where}.{name}", f"{name} {excerpt(value)} is not {what}")
        return value

    def instant(self, block: dict[str, Any], where: str, name: str) -> datetime:
        value = block.get(name)
        instant = read_instant(value)
        if value is None:
            raise self.error(f"{where}.{name}", f"{name} is missing, not a date and time")
        if instant is None:
            raise self.error(
                f"{where}.{name}",
                f"{name} {_shown(value)} is not a date and time that exists, with its time zone "
                "(e.g. 2026-05-07T09:30:00+01:00)",
            )
        return instant

    # -- S0 ---------------------------------------------------------------------------------

    def schema_version(self, s0: dict[str, Any]) -> str:
        version = self.pattern(s0, "S0", "schemaVersion", _SCHEMA_VERSION, "a schema version")
        if version not in KNOWN_SCHEMA_VERSIONS:
            self.warnings.add(
                "a schema version the ledger has no evidence of",
                f"{self.label} is schema version {version}, which the ledger has no evidence of "
                f"(it knows {', '.join(KNOWN_SCHEMA_VERSIONS)}); its envelope was read as "
                "theirs and its body kept as received",
            )
        return version

    def event_codes(self, value: Any) -> list[str]:
        """``"[ActivePower]"`` or ``["ActivePower"]`` as ``["ActivePower"]``."""
        if value is None:
            raise self.error("S0.eventCode", "eventCode is missing: the message names no event")
        texts = value if isinstance(value, list) else [value]
        codes: list[str] = []
        for text in texts:
            match = _EVENT.fullmatch(text.strip()) if isinstance(text, str) else None
            if match is None:
                raise self.error(
                    "S0.eventCode",
                    f"the event code {_shown(text)} is not an event name (e.g. [ActivePower])",
                )
            codes.append(match.group(1))
        if not codes:
            raise self.error("S0.eventCode", "the message names no event code")
        return codes

    # -- A0, D0 -----------------------------------------------------------------------------

    def recipients(self) -> list[str]:
        a0 = self.block("A0")
        if not a0:
            return []
        found: list[str] = []
        for name in _RECIPIENT_LISTS:
            ids = a0.get(name) or []
            if not isinstance(ids, list) or not all(
                isinstance(i, str) and _DIP_ID.fullmatch(i) for i in ids
            ):
                raise self.error(f"A0.{name}", f"{name} is not a list of DIP ids (digits)")
            found.extend(ids)
        if not found:
            raise self.error("A0", "the message is addressed to no one (no recipient in A0)")
        return found

    def delivery(self) -> None:
        """D0, which the DIP adds: its timestamp, when given, must be one."""
        d0 = self.block("D0")
        if d0.get("transactionTimestamp") is not None:
            self.instant(d0, "D0", "transactionTimestamp")

    # -- M0, M1 -----------------------------------------------------------------------------

    def metering_system(self, envelope: Envelope) -> None:
        m0, m1 = self.block("M0"), self.block("M1")
        if m0:
            where, block, key = "M0", m0, "MPANCore"
        elif m1:
            where, block, key = "M1", m1, "principalMPAN"
        else:
            return
        text = self.text(block, where, key)
        try:
            envelope.mpan = mpan_core(text)
        except LedgerError as exc:
            raise self.error(f"{where}.{key}", str(exc)) from None
        self.stated.saw_subject(f"mpan:{envelope.mpan}")
        envelope.gsp_group = self.gsp_group(block, where)
        self.check_distributor(envelope.mpan, envelope.gsp_group)

    def gsp_group(self, block: dict[str, Any], where: str) -> str:
        key = "GSPGroupID" if "GSPGroupID" in block else "gspGroupID"
        text = self.text(block, where, key)
        try:
            return gsp_group(text)
        except LedgerError as exc:
            raise self.error(f"{where}.{key}", str(exc)) from None

    def check_distributor(self, mpan: str, group: str) -> None:
        distributor = int(mpan[:2])
        if distributor in GSP_GROUPS.values() and GSP_GROUPS[group] != distributor:
            self.warnings.add(
                "a GSP Group outside the MPAN's distributor area",
                f"{self.label}: MPAN {mpan} belongs to distributor {distributor}, whose area is "
                f"not GSP Group {group}; the message was kept as sent",
            )


class DipMessageFormat:
    """MHHS DIP messages: a JSON object whose first bytes show a ``CommonBlock``."""

    name = "mhhs-dip"
    units: Mapping[str, str] = MappingProxyType({})  # bodies are not read into measures

    def recognises(self, head: bytes) -> bool:
        return starts_as_json(head) and b'"CommonBlock"' in head

    def read(
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> DipMessage:
        return read_dip_message(stream, file_name=file_name, stated=stated, limits=limits)


FORMAT = DipMessageFormat()
