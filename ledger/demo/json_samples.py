"""Synthetic JSON documents shaped like the market's: Elexon Insights system prices pages
(DISEBSP) and MHHS DIP messages, for the demo and the tests.

Shapes follow the evidence cited in :mod:`ledger.flows.insights` and :mod:`ledger.flows.mhhs`;
values are synthetic and deterministic in (seed, settlement date, period, revision). Numbers are
written as exact JSON numbers with 18 decimal places, as the Insights API writes them, and never
pass through binary floating point.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from ledger.domain.identifiers import GSP_GROUPS, mpan_check_digit
from ledger.domain.settlement_time import period_start_utc, periods_in_day
from ledger.flows.insights import FLOW, NUMERIC_FIELDS

__all__ = [
    "PageForm",
    "disebsp_day",
    "disebsp_page",
    "disebsp_record",
    "dip_message",
    "mpan_for",
    "to_json",
    "utc_text",
]

PageForm = Literal["metadata", "data", "bare"]
_PLACES = Decimal(1).scaleb(-18)  # 18 decimal places, as the live API writes
_NULLABLE_ABSENT = ("replacementPrice", "replacementPriceReferenceVolume")


def utc_text(instant: datetime) -> str:
    """An instant as the Insights API writes one: ``2026-05-06T23:44:34Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _draw(rng: random.Random, low: int, high: int, places: int) -> Decimal:
    return (Decimal(rng.randint(low, high)).scaleb(-places)).quantize(_PLACES)


def disebsp_record(
    settlement_date: date,
    period: int,
    created: datetime,
    *,
    seed: int = 0,
    revision: int = 0,
) -> dict[str, Any]:
    """One DISEBSP record for a settlement period, as the API returns it (numbers as
    :class:`Decimal`); ``revision`` moves the values, as a later publication would."""
    rng = random.Random(f"{seed}|{settlement_date.isoformat()}|{period}|{revision}")
    price = _draw(rng, -5_000, 40_000, 2)
    offers = _draw(rng, 0, 2_000_000_000, 6)
    bids = -_draw(rng, 0, 2_000_000_000, 6)
    numbers: dict[str, Decimal | None] = {
        name: Decimal(0).quantize(_PLACES) for name in NUMERIC_FIELDS
    }
    numbers.update(
        systemSellPrice=price,
        systemBuyPrice=price,  # a single imbalance price since P305
        netImbalanceVolume=offers + bids,
        totalAcceptedOfferVolume=offers,
        totalAcceptedBidVolume=bids,
        totalSystemTaggedAcceptedOfferVolume=offers,
        totalSystemTaggedAcceptedBidVolume=bids,
        totalSystemTaggedAdjustmentSellVolume=None,
        totalSystemTaggedAdjustmentBuyVolume=None,
    )
    numbers.update(dict.fromkeys(_NULLABLE_ABSENT))
    return {
        "settlementDate": settlement_date.isoformat(),
        "settlementPeriod": period,
        "startTime": utc_text(period_start_utc(settlement_date, period)),
        "createdDateTime": utc_text(created),
        "systemSellPrice": numbers.pop("systemSellPrice"),
        "systemBuyPrice": numbers.pop("systemBuyPrice"),
        "bsadDefaulted": False,
        "priceDerivationCode": "P" if offers + bids > 0 else "N",
        **numbers,
    }


def disebsp_day(
    settlement_date: date, created: datetime, *, seed: int = 0, revision: int = 0
) -> list[dict[str, Any]]:
    """Every period of a settlement day (46, 48 or 50), published at ``created``."""
    return [
        disebsp_record(settlement_date, period, created, seed=seed, revision=revision)
        for period in range(1, periods_in_day(settlement_date) + 1)
    ]


def disebsp_page(records: Iterable[Mapping[str, Any]], *, envelope: PageForm = "metadata") -> bytes:
    """A page of records as the API returns it: ``{"metadata": ..., "data": [...]}``, only
    ``{"data": [...]}``, or a bare list (the stream form); one record per line."""
    body = "[\n" + ",\n".join(to_json(record) for record in records) + "\n]"
    if envelope == "bare":
        return body.encode()
    metadata = f'"metadata": {{"datasets": ["{FLOW}"]}}, ' if envelope == "metadata" else ""
    return ("{" + metadata + '"data": ' + body + "}\n").encode()


def to_json(value: Any) -> str:
    """Compact JSON in which a :class:`Decimal` is written as an exact fixed-point number."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def mpan_for(gsp_group: str = "_A", serial: int = 12345678) -> str:
    """A valid MPAN core (right check digit) of the licensed distributor of a GSP Group."""
    first_twelve = f"{GSP_GROUPS[gsp_group]:02d}{serial:010d}"
    return first_twelve + str(mpan_check_digit(first_twelve))


def dip_message(
    *,
    interface: str = "IF-021",
    event: str = "ActivePower",
    schema_version: str = "011",
    mpan: str | None = None,
    gsp_group: str = "_A",
    sender_dip_id: str = "1009012345",
    sender_role: str = "SDS",
    sent: datetime = datetime(2026, 5, 7, 9, 30, tzinfo=UTC),
    recipients: Sequence[str] = ("2009012345",),
    custom_block: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A DIP message as a dict (so tests can change it), in the envelope of Elexon's DIP
    specification examples; write it with :func:`to_json`."""
    stamp = sent.isoformat()
    reference = f"S-{interface}-{sender_dip_id}-{sender_role}-{sent:%Y%m%d}-EXAMPLE01"
    return {
        "CommonBlock": {
            "S0": {
                "interfaceID": interface,
                "schemaVersion": schema_version,
                "eventCode": f"[{event}]",
            },
            "S1": {
                "environmentTag": "PRD",
                "subText": None,
                "senderUniqueReference": reference,
                "senderTimestamp": stamp,
                "senderDIPID": sender_dip_id,
                "senderRoleID": sender_role,
                "senderCorrelationID": f"CI-{sent:%Y%m%d}-0001",
                "DIPConnectionProviderID": None,
            },
            "A0": {"primaryRecipients": list(recipients), "secondaryRecipients": [], "always": []},
            "D0": {
                "transactionID": f"T-{interface}-{sender_dip_id}-{sender_role}-{sent:%Y%m%d}-01",
                "transactionTimestamp": stamp,
                "publicationID": interface.replace("IF-", "PUB-"),
                "initialCorrelationID": f"CI-{sent:%Y%m%d}-0001",
                "replayIndicator": False,
                "serviceTicketURL": None,
            },
            "M0": {
                "MPANCore": mpan if mpan is not None else mpan_for(gsp_group),
                "distributorDIPID": "1009012345",
                "GSPGroupID": gsp_group,
            },
        },
        "CustomBlock": dict(custom_block) if custom_block is not None else _consumption(),
    }


def _consumption() -> dict[str, Any]:
    """An IF-021-like body (kept, not interpreted by the ledger)."""
    return {
        "B044": {"issuingDataServiceDIPID": "1009012345"},
        "B900": {
            "MQID": {"measurementQuantityID": "AI"},
            "settlementDayConsumptionPeriods": [
                {
                    "settlementDay": {"settlementDayDate": "2026-05-06", "periodDuration": 30},
                    "consumptionPeriods": [{"sp": 1, "v": "0.412", "q": "A"}],
                }
            ],
        },
    }
