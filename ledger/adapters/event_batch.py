"""Bulk encoding of one file's settlement-period events, byte for byte as the library's mapper.

The period events of one file share most of their fields (tenant, settlement date, run,
provenance, the instant the ledger learned them). The encoder has the mapper encode one
template event per event class, with a marker in each field that differs per period, and
then splices each period's fields into the template. Only the differing fields are encoded
per event, which is what makes a 100,000-period file cheap to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from ledger.adapters.memo import MappingMemo
from ledger.domain.aggregates import Delivery, SettlementPeriod
from ledger.domain.measures import Measures
from ledger.flows.saa_i014 import PeriodValues

# The fields that differ between the values events of one file, in the events' field order.
_PER_PERIOD = (
    "subject",
    "settlement_period",
    "values",
    "attributes",
    "unconfirmed",
    "record_position",
)
# A further source of a version: the period, the version it confirms and the record.
_PER_SOURCE = ("subject", "settlement_period", "version", "record_position")
# The fields a further delivery shares with the file's values events.
_SOURCE_SHARED = (
    "timestamp",
    "tenant",
    "settlement_date",
    "flow",
    "source_sha256",
    "file_creation_time",
)
_PERIOD_TOPIC = get_topic(SettlementPeriod)
E = TypeVar("E", bound=SettlementPeriod.PeriodEvent)


class _Template:
    """The encoded state of one event class with holes for the fields that differ per event."""

    def __init__(
        self,
        cls: type[Any],
        mapper: Mapper[UUID],
        shared: Mapping[str, Any],
        holes: tuple[str, ...] = _PER_PERIOD,
    ) -> None:
        # A control character no received text may carry (the IDD reader refuses them, and
        # the transcoder refuses NUL), so a marker cannot collide with a value.
        markers = {name: f"\x01{name}\x01" for name in holes}
        extra = (
            {"originator_topic": _PERIOD_TOPIC}
            if cls is SettlementPeriod.FirstValuesRecorded
            else {}
        )
        sample = cls(originator_id=UUID(int=0), originator_version=1, **shared, **extra, **markers)
        state = mapper.to_stored_event(sample).state
        encode = mapper.transcoder.encode
        self.topic = get_topic(cls)
        self.parts: list[bytes] = []
        for name in holes:
            before, found, state = state.partition(encode(markers[name]))
            if not found:
                raise AssertionError(f"{cls.__name__} has no field {name!r} to fill")
            self.parts.append(before)
        self.parts.append(state)


def _assembled(cls: type[E], fields: dict[str, Any]) -> E:
    """An event of ``cls`` with exactly ``fields``, as its constructor makes it, without the
    constructor's cost (a frozen dataclass sets each field through ``object.__setattr__``:
    2.4 µs an event against 0.3 µs). Checked against the constructor once per encoder
    (:func:`_check_assembly`); the fields come from the encoder, and the id is a UUID."""
    event = object.__new__(cls)
    event.__dict__.update(fields)
    return event


def _check_assembly(cls: type[E], fields: dict[str, Any]) -> None:
    """Refuse to assemble ``cls`` unless an assembled event holds exactly the attributes of a
    constructed one and equals it (a library whose events stop being plain dataclasses)."""
    built = cls(**fields)
    assembled = _assembled(cls, dict(fields))
    if vars(built) != vars(assembled) or built != assembled:
        raise AssertionError(f"{cls.__name__} cannot be assembled field by field")


class PeriodEventEncoder:
    """Encodes the period events of one file into stored-event rows: values recorded (the first
    version or a later one), values conflicting with a run already held, a further source."""

    def __init__(self, mapper: Mapper[UUID], shared: Mapping[str, Any]) -> None:
        if mapper.compressor is not None or mapper.cipher is not None:
            raise ValueError("bulk encoding needs plain JSON events (no compression, no cipher)")
        self._encode = mapper.transcoder.encode
        # A file's subjects and attributes repeat in each period: each encoded once.
        self._subjects: dict[str, bytes] = {}
        self._attributes = MappingMemo(self._encode)
        self._shared: dict[str, Any] = dict(shared)
        # How the transcoder wraps measures ({"_type_": ..., "_data_": {...}}), taken from the
        # transcoder itself, so the measures' own JSON can be spliced in.
        empty = self._encode(Measures())
        if not empty.endswith(b"{}}"):
            raise AssertionError(f"unexpected encoding of measures: {empty!r}")
        self._measures_open = empty[: -len(b"{}}")]
        self._first = _Template(SettlementPeriod.FirstValuesRecorded, mapper, shared)
        self._next = _Template(SettlementPeriod.ValuesRecorded, mapper, shared)
        self._conflict = _Template(
            SettlementPeriod.ConflictingValuesRecorded,
            mapper,
            {**shared, "conflicts_with": "\x01conflicts_with\x01"},
        )
        self._source = _Template(
            SettlementPeriod.SourceAdded,
            mapper,
            {name: shared[name] for name in _SOURCE_SHARED},
            _PER_SOURCE,
        )
        sample = {
            **self._shared,
            "originator_id": UUID(int=0),
            "originator_version": 1,
            "subject": "system",
            "settlement_period": 1,
            "record_position": 1,
            "values": Measures(),
            "attributes": {},
            "unconfirmed": {},
        }
        _check_assembly(SettlementPeriod.ValuesRecorded, sample)
        _check_assembly(
            SettlementPeriod.FirstValuesRecorded, {**sample, "originator_topic": _PERIOD_TOPIC}
        )

    def encoded(
        self, key: UUID, version: int, item: PeriodValues, outcome: Delivery, other: int | None
    ) -> tuple[UUID, int, str, bytes]:
        """The row for one period's delivery: new values, a further source of version
        ``other``, or values conflicting with version ``other``."""
        if outcome is Delivery.NEW:
            return self.row(key, version, item)
        assert other is not None
        if outcome is Delivery.SAME:
            return self.source_row(key, version, item, other)
        return self.conflict_row(key, version, item, other)

    def event(
        self, key: UUID, version: int, item: PeriodValues, outcome: Delivery, other: int | None
    ) -> SettlementPeriod.PeriodEvent:
        """The domain event :meth:`encoded` encodes (for views kept current by the writer,
        which need not read back and decode what it has just written)."""
        period: dict[str, Any] = {
            "originator_id": key,
            "originator_version": version,
            "subject": item.subject,
            "settlement_period": item.settlement_period,
            "record_position": item.record_position,
        }
        if outcome is Delivery.SAME:
            assert other is not None
            source = {name: self._shared[name] for name in _SOURCE_SHARED}
            return SettlementPeriod.SourceAdded(**source, **period, version=other)
        values: dict[str, Any] = {
            **self._shared,
            **period,
            "values": Measures.of(item.values),
            "attributes": item.attributes,
            "unconfirmed": item.unconfirmed,
        }
        if outcome is Delivery.CONFLICTING:
            assert other is not None
            return SettlementPeriod.ConflictingValuesRecorded(**values, conflicts_with=other)
        if version == 1:
            values["originator_topic"] = _PERIOD_TOPIC
            return _assembled(SettlementPeriod.FirstValuesRecorded, values)
        return _assembled(SettlementPeriod.ValuesRecorded, values)

    def row(self, key: UUID, version: int, item: PeriodValues) -> tuple[UUID, int, str, bytes]:
        """The stored-event row (id, version, topic, state) for one period's values."""
        template = self._first if version == 1 else self._next
        return key, version, template.topic, self._values_state(template, item)

    def conflict_row(
        self, key: UUID, version: int, item: PeriodValues, conflicts_with: int
    ) -> tuple[UUID, int, str, bytes]:
        """The row for values that conflict with version ``conflicts_with`` of the same run."""
        template = self._conflict
        state = self._values_state(template, item)
        marker = self._encode("\x01conflicts_with\x01")
        state = state.replace(marker, str(conflicts_with).encode(), 1)
        return key, version, template.topic, state

    def source_row(
        self, key: UUID, version: int, item: PeriodValues, confirms: int
    ) -> tuple[UUID, int, str, bytes]:
        """The row for a further source of version ``confirms`` (the same values again)."""
        p = self._source.parts
        state = b"".join(
            (
                p[0],
                self._subject(item.subject),
                p[1],
                str(item.settlement_period).encode(),
                p[2],
                str(confirms).encode(),
                p[3],
                str(item.record_position).encode(),
                p[4],
            )
        )
        return key, version, self._source.topic, state

    def _subject(self, subject: str) -> bytes:
        found = self._subjects.get(subject)
        if found is None:
            found = self._subjects[subject] = self._encode(subject)
        return found

    def _values_state(self, template: _Template, item: PeriodValues) -> bytes:
        p = template.parts
        return b"".join(
            (
                p[0],
                self._subject(item.subject),
                p[1],
                str(item.settlement_period).encode(),
                p[2],
                self._measures_open,
                Measures.of(item.values).as_json().encode(),
                b"}",
                p[3],
                self._attributes(item.attributes) if item.attributes else b"{}",
                p[4],
                self._encode(item.unconfirmed) if item.unconfirmed else b"{}",
                p[5],
                str(item.record_position).encode(),
                p[6],
            )
        )
