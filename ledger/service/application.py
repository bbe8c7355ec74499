"""The ledger application: stores events through the eventsourcing library, in one database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoder, Transcoding

from ledger.adapters import raw_payloads
from ledger.adapters.event_store import EventStore, ViewTracking
from ledger.adapters.storage import Database
from ledger.domain.aggregates import ReceivedFile, SettlementPeriod, settlement_period_id
from ledger.domain.documents import Document, document_id
from ledger.domain.errors import ConfigurationError, LedgerBusy, LedgerError
from ledger.domain.identifiers import Subject
from ledger.domain.measures import MeasuresAsText
from ledger.domain.plain_text import InvalidText
from ledger.domain.readings import MeterReadings, meter_readings_id
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


# How often a person's command on a period is tried when other writers keep changing it.
_COMMAND_ATTEMPTS = 5


class NotFound(LedgerError, LookupError):
    """The tenant has nothing under that identity."""


class Ledger(Application[UUID]):
    """Stores every received file, settlement value, correction and intervention as events."""

    name = "ledger"

    def __init__(self, database: Database | None = None, *, create_tables: bool = True) -> None:
        self.database = database or Database()
        env = self.database.eventsourcing_env()
        env["CREATE_TABLE"] = "true" if create_tables else "false"
        super().__init__(env=env)
        if not isinstance(self.recorder, EventStore):
            self._refuse(self.recorder, "event store", "APPLICATION")
        # Where the views record their positions: the library builds it from the ledger's
        # settings (``TRACKING_RECORDER_TOPIC``), on the application's own datastore.
        tracking = self.factory.tracking_recorder()
        if not isinstance(tracking, ViewTracking):
            self._refuse(tracking, "views' tracking", "TRACKING")
        self.view_tracking: ViewTracking = tracking
        if create_tables:
            raw_payloads.create_tables(self.database)

    def _refuse(self, built: object, role: str, setting: str) -> NoReturn:
        """Only the environment can give the library's own recorder instead of the ledger's
        adapter: the library lets a setting prefixed with the application's name outrank the
        settings the ledger passes it."""
        found = type(built).__name__
        self.close()
        prefix = self.name.upper()
        raise ConfigurationError(
            f"the {role} is the library's {found}, not the ledger's adapter: unset "
            f"{prefix}_{setting}_RECORDER_TOPIC and {prefix}_PERSISTENCE_MODULE"
        )

    @property
    def event_store(self) -> EventStore:
        """The application's recorder: the ledger's event-store adapter for its backend, which
        the library itself constructs (``Database.eventsourcing_env`` names it)."""
        recorder = self.recorder
        assert isinstance(recorder, EventStore), "checked when the ledger was constructed"
        return recorder

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
        return self._on_period(
            (tenant, subject, settlement_date, settlement_period),
            lambda period: period.apply_correction(supersedes, values, reason, actor),
        )

    def intervene(
        self,
        tenant: str,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        action: str,
        version: int | None,
        actor: str,
        reason: str,
    ) -> int:
        """A typed manual intervention on a period (hold, pin ``version`` or release), naming
        who and why; returns the period's new aggregate version."""
        return self._on_period(
            (tenant, subject, settlement_date, settlement_period),
            lambda period: period.intervene(action, version, actor, reason),
        )

    def _on_period(
        self, key: tuple[str, str, date, int], command: Callable[[SettlementPeriod], None]
    ) -> int:
        """Run a person's command on a period and save what it decided; the new version.

        Another writer may append to the period between loading and saving it (a run being
        ingested, another correction): the library then refuses the save (its optimistic
        check on versions), and the command is run again on the period as it now stands, its
        rules checked afresh, a few times before the ledger reports itself busy.
        """
        for _ in range(_COMMAND_ATTEMPTS):
            period = self.settlement_period(*key)
            command(period)
            try:
                self.save(period)
            except IntegrityError:
                continue
            return int(period.version)
        raise LedgerBusy(
            f"{key[1]} on {key[2].isoformat()} period {key[3]} kept changing while the command "
            "ran: try again"
        )

    def document(self, tenant: str, reference: str) -> Document | None:
        """A tenant's document, rebuilt from its events; None when there is none."""
        try:
            found: Document = self.repository.get(document_id(tenant, reference))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, Document)
        return found

    def meter_readings(self, tenant: str, mpan: str, meter: str) -> MeterReadings | None:
        """A tenant's readings of one meter, rebuilt from their events; None when none."""
        try:
            found: MeterReadings = self.repository.get(meter_readings_id(tenant, mpan, meter))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, MeterReadings)
        return found

    def received_file(self, key: UUID) -> ReceivedFile | None:
        try:
            received: ReceivedFile = self.repository.get(key)
        except AggregateNotFoundError:
            return None
        assert isinstance(received, ReceivedFile)
        return received

    def event_history(self, key: UUID) -> list[Any]:
        """Every event of one aggregate, in order (evidence for disputes)."""
        return list(self.events.get(key))
