"""Bulk encoding of one file's settlement-period events, byte for byte as the library's mapper.

The period events of one file share most of their fields (tenant, settlement date, run,
provenance, the instant the ledger learned them). The encoder has the mapper encode one
template event per event class, with a marker in each field that differs per period, and
then splices each period's fields into the template. Only the differing fields are encoded
per event, which is what makes a 100,000-period file cheap to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from ledger.domain.aggregates import SettlementPeriod
from ledger.domain.measures import Measures
from ledger.flows.saa_i014 import PeriodValues

# The fields that differ between the period events of one file, in the events' field order.
_PER_PERIOD = (
    "subject",
    "settlement_period",
    "values",
    "attributes",
    "unconfirmed",
    "record_position",
)
_PERIOD_TOPIC = get_topic(SettlementPeriod)


class _Template:
    """The encoded state of one event class with holes for the per-period fields."""

    def __init__(self, cls: type[Any], mapper: Mapper[UUID], shared: Mapping[str, Any]) -> None:
        # A control character no received text may carry (the IDD reader refuses them, and
        # the transcoder refuses NUL), so a marker cannot collide with a value.
        markers = {name: f"\x01{name}\x01" for name in _PER_PERIOD}
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
        for name in _PER_PERIOD:
            before, found, state = state.partition(encode(markers[name]))
            if not found:
                raise AssertionError(f"{cls.__name__} has no field {name!r} to fill")
            self.parts.append(before)
        self.parts.append(state)


class PeriodEventEncoder:
    """Encodes the values-recorded events of one file into stored-event rows."""

    def __init__(self, mapper: Mapper[UUID], shared: Mapping[str, Any]) -> None:
        if mapper.compressor is not None or mapper.cipher is not None:
            raise ValueError("bulk encoding needs plain JSON events (no compression, no cipher)")
        self._encode = mapper.transcoder.encode
        self._first = _Template(SettlementPeriod.FirstValuesRecorded, mapper, shared)
        self._next = _Template(SettlementPeriod.ValuesRecorded, mapper, shared)

    def row(self, key: UUID, version: int, item: PeriodValues) -> tuple[UUID, int, str, bytes]:
        """The stored-event row (id, version, topic, state) for one period's values."""
        template = self._first if version == 1 else self._next
        p = template.parts
        encode = self._encode
        state = b"".join(
            (
                p[0],
                encode(item.subject),
                p[1],
                str(item.settlement_period).encode(),
                p[2],
                encode(Measures(item.values)),
                p[3],
                encode(item.attributes) if item.attributes else b"{}",
                p[4],
                encode(item.unconfirmed) if item.unconfirmed else b"{}",
                p[5],
                str(item.record_position).encode(),
                p[6],
            )
        )
        return key, version, template.topic, state
