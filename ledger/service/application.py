"""The ledger application: stores events through the eventsourcing library, in one database."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Transcoder, Transcoding

from ledger.adapters import raw_payloads
from ledger.adapters.storage import Database
from ledger.domain.aggregates import Flow, SettlementPeriod, settlement_period_id
from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import Subject
from ledger.domain.measures import MeasuresAsText
from ledger.domain.plain_text import MAX_REASON_LENGTH, InvalidText, plain_text
from ledger.domain.settlement_time import check_settlement_period


class DateAsISO(Transcoding):
    """Settlement dates travel as ISO text (the library does not transcode ``date``)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ViewSafeTranscoder(JSONTranscoder):
    """The library's JSON transcoder, refusing state that a view could not hold.

    The last line of defence behind the validation at every entry point: an event carrying
    a NUL character would enter the log and then break every view on PostgreSQL (its text
    type cannot hold NUL), for every tenant.
    """

    def encode(self, obj: Any) -> bytes:
        data = super().encode(obj)
        if b"\\u0000" in data and _ESCAPED_NUL.search(data):
            raise InvalidText("a text in this event contains a NUL character; nothing was written")
        return data


# JSON's escape for NUL, not preceded by an escaped backslash (``\\u0000`` is the literal text).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class NotFound(LedgerError, LookupError):
    """The tenant has nothing under that identity."""


class Ledger(Application[UUID]):
    """Stores every received flow, settlement value, correction and intervention as events."""

    name = "ledger"

    def __init__(self, database: Database | None = None, *, create_tables: bool = True) -> None:
        self.database = database or Database()
        env = self.database.eventsourcing_env()
        env["CREATE_TABLE"] = "true" if create_tables else "false"
        super().__init__(env=env)
        if create_tables:
            raw_payloads.create_tables(self.database)

    @property
    def events_table(self) -> str:
        """The event store's table (its name differs between the library's backends)."""
        return str(self.recorder.events_table_name)  # type: ignore[attr-defined]

    def construct_transcoder(self) -> Transcoder:
        transcoder = ViewSafeTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(MeasuresAsText())

    def settlement_period(
        self, tenant: str, subject: str, settlement_date: date, settlement_period: int
    ) -> SettlementPeriod:
        """The aggregate for a subject-period, rebuilt from its events."""
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        key = settlement_period_id(tenant, canonical, settlement_date, settlement_period)
        try:
            period: SettlementPeriod = self.repository.get(key)
        except AggregateNotFoundError:
            raise NotFound(
                f"tenant {tenant!r} has no values for {canonical} on "
                f"{settlement_date.isoformat()} period {settlement_period}"
            ) from None
        assert isinstance(period, SettlementPeriod)
        return period

    def apply_correction(
        self,
        tenant: str,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        supersedes: int,
        values: dict[str, Decimal],
        reason: str,
        actor: str,
    ) -> int:
        """Correct the values of one version; returns the new version number."""
        actor, reason = _attribution(actor, reason, "a correction")
        period = self.settlement_period(tenant, subject, settlement_date, settlement_period)
        superseded = [v for v in period.versions if v.version == supersedes]
        if not superseded:
            known = ", ".join(str(v.version) for v in period.versions)
            raise LedgerError(
                f"{period.subject} on {settlement_date.isoformat()} period {settlement_period} "
                f"has no version {supersedes} to correct (versions: {known})"
            )
        period.apply_correction(supersedes, values, reason, actor)
        self.save(period)
        return int(period.version)

    def record_manual_intervention(
        self,
        tenant: str,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        actor: str,
        reason: str,
        outcome: str,
    ) -> int:
        """Record who intervened on a period, why and with what outcome."""
        actor, reason = _attribution(actor, reason, "a manual intervention")
        period = self.settlement_period(tenant, subject, settlement_date, settlement_period)
        period.record_manual_intervention(actor, reason, outcome)
        self.save(period)
        return int(period.version)

    def flow(self, key: UUID) -> Flow | None:
        try:
            flow: Flow = self.repository.get(key)
        except AggregateNotFoundError:
            return None
        assert isinstance(flow, Flow)
        return flow

    def event_history(self, key: UUID) -> list[Any]:
        """Every event of one aggregate, in order (evidence for disputes)."""
        return list(self.events.get(key))


def _attribution(actor: str, reason: str, what: str) -> tuple[str, str]:
    """The person and reason a privileged action must name, checked as plain text."""
    if not reason.strip() or not actor.strip():
        raise LedgerError(f"{what} needs the person who made it and a reason")
    return (
        plain_text(actor, f"the person making {what}"),
        plain_text(reason, f"the reason for {what}", max_length=MAX_REASON_LENGTH),
    )
