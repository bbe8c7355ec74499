"""Finance: the versions of a settlement period, now or as known at an instant; corrections
and typed manual interventions (hold, pin, release), each naming who and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.dependencies import (
    Instant,
    SettlementDate,
    SettlementPeriod,
    Subject,
    Tenant,
    as_of_of,
    runtime_of,
    settlement_date_of,
)
from api.schemas import Problem
from ledger.domain.aggregates import correction_values
from ledger.domain.errors import InvalidCorrection
from ledger.domain.runs import SETTLEMENT_RUNS
from ledger.service.read_models import DayView, PeriodHistory, PeriodView

router = APIRouter(tags=["finance"])

# A run type (II, SF, R1, R2, R3, RF, DF), read by the ledger (an unknown one is a 400).
RunQuery = Annotated[
    str | None, WithJsonSchema({"type": "string", "enum": [str(r) for r in SETTLEMENT_RUNS]})
]
_RUN_DESCRIPTION = (
    "as of a run: best is the best version no more mature than this run type (II, SF, R1, "
    "R2, R3, RF or DF), pins ignored; with as_of, among the versions known then (an unknown "
    "run type is a 400)"
)


@router.get(
    "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}",
    response_model=PeriodView,
    responses={
        400: {
            "model": Problem,
            "description": "no such subject, settlement date or period (dates run from "
            "2001-03-27 to 2099-12-31), an as-of instant that is malformed, has no time "
            "zone or is out of range, or an unknown run type",
        }
    },
)
def get_period(
    request: Request,
    tenant: Tenant,
    subject: Subject,
    settlement_date: SettlementDate,
    settlement_period: SettlementPeriod,
    as_of: Annotated[
        Instant | None,
        Query(
            description="only versions the ledger knew at this instant; ISO 8601 with a time "
            "zone, e.g. 2026-05-07T12:00:00Z (in a URL, write a + offset as %2B), from "
            "2000-01-01T00:00:00Z up to 2200-01-01T00:00:00Z",
        ),
    ] = None,
    run: Annotated[RunQuery, Query(description=_RUN_DESCRIPTION, examples=["SF"])] = None,
) -> PeriodView:
    """Every version of a subject's settlement period, with the best available one (or, with
    ``run``, the one the ``run:RUN`` rule chooses: ``selected_by`` says which).

    A tenant that knows nothing of the period gets an empty list of versions, not a 404;
    ``subject_known`` says whether it has values for the subject on any other date.
    """
    return runtime_of(request).period(
        subject,
        settlement_date_of(settlement_date),
        settlement_period,
        tenant=tenant,
        as_of=as_of_of(as_of),
        run=run,
    )


# --- corrections and interventions ------------------------------------------------------------

_PERIOD = "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}"

# Text, read by the ledger (anything but a plain decimal is a 400), documented as a decimal.
_DecimalText = Annotated[
    str, WithJsonSchema({"type": "string", "format": "decimal", "examples": ["-1234.56"]})
]

_CHANGE_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "refused, saying why, and nothing written: no person or reason, a "
        "version the period lacks or one already corrected (correct its correction), a measure "
        "the version lacks, a value that is not a decimal, an intervention the "
        "period's state does not allow; or no such subject, settlement date or period",
    },
    404: {"model": Problem, "description": "the tenant has no values for that period"},
}


class CorrectionRequest(BaseModel):
    """A correction of one version's values: a new version that supersedes it. Every field
    is required: a correction without them is refused (400) with the reason."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"required": ["version", "values", "reason", "actor"]}
    )

    version: int | None = Field(default=None, description="the version it supersedes")
    values: dict[str, _DecimalText] = Field(
        default_factory=dict,
        description="measure name to its corrected value, an exact decimal string",
        examples=[{"bm_unit_cashflow": "-1234.56"}],
    )
    reason: str = Field(
        default="",
        description="why it is corrected",
        json_schema_extra={"minLength": 1, "maxLength": 2000},
    )
    actor: str = Field(
        default="",
        description="the person correcting it",
        json_schema_extra={"minLength": 1, "maxLength": 255},
    )


class InterventionRequest(BaseModel):
    """A typed manual intervention on a period. ``action``, ``reason`` and ``actor`` are
    required, and ``version`` for a pin only: otherwise it is refused (400) with the reason."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"required": ["action", "reason", "actor"]}
    )

    action: str = Field(
        default="",
        description="hold (documents refuse the period, saying why, until released), pin "
        "(the best view uses the version until released) or release (lifts both)",
        json_schema_extra={"enum": ["hold", "pin", "release"]},
        examples=["hold"],
    )
    version: int | None = Field(default=None, description="the version to pin (pin only)")
    reason: str = Field(
        default="", description="why", json_schema_extra={"minLength": 1, "maxLength": 2000}
    )
    actor: str = Field(
        default="",
        description="the person intervening",
        json_schema_extra={"minLength": 1, "maxLength": 255},
    )


@router.post(f"{_PERIOD}/corrections", response_model=PeriodView, responses=_CHANGE_REFUSED)
def post_correction(
    request: Request,
    tenant: Tenant,
    subject: Subject,
    settlement_date: SettlementDate,
    settlement_period: SettlementPeriod,
    correction: CorrectionRequest,
) -> PeriodView:
    """Correct one version's values, naming who and why: a new version that supersedes it
    (never an overwrite). Returns the period's view, which already includes it."""
    day = settlement_date_of(settlement_date)
    if correction.version is None:
        raise InvalidCorrection("a correction needs the version it supersedes")
    runtime = runtime_of(request)
    runtime.correct(
        subject,
        day,
        settlement_period,
        supersedes=correction.version,
        values=correction_values(correction.values.items()),
        reason=correction.reason,
        actor=correction.actor,
        tenant=tenant,
    )
    return runtime.period(subject, day, settlement_period, tenant=tenant)


@router.post(f"{_PERIOD}/interventions", response_model=PeriodView, responses=_CHANGE_REFUSED)
def post_intervention(
    request: Request,
    tenant: Tenant,
    subject: Subject,
    settlement_date: SettlementDate,
    settlement_period: SettlementPeriod,
    intervention: InterventionRequest,
) -> PeriodView:
    """Hold the period from billing, pin one of its versions for the best view, or release
    both, naming who and why. Returns the period's view, which already includes it."""
    day = settlement_date_of(settlement_date)
    runtime = runtime_of(request)
    runtime.intervene(
        subject,
        day,
        settlement_period,
        action=intervention.action,
        version=intervention.version,
        reason=intervention.reason,
        actor=intervention.actor,
        tenant=tenant,
    )
    return runtime.period(subject, day, settlement_period, tenant=tenant)


# --- bitemporal queries: a period's history, a whole settlement day ---------------------------

_AS_OF_DESCRIPTION = (
    "only what the ledger knew at this instant; ISO 8601 with a time zone, e.g. "
    "2026-05-07T12:00:00Z (in a URL, write a + offset as %2B)"
)
_QUERY_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "no such subject, settlement date or period; an instant that is "
        "malformed, has no time zone or is out of range; from after to; an unknown run type",
    }
}


@router.get(f"{_PERIOD}/history", response_model=PeriodHistory, responses=_QUERY_REFUSED)
def get_period_history(
    request: Request,
    tenant: Tenant,
    subject: Subject,
    settlement_date: SettlementDate,
    settlement_period: SettlementPeriod,
    recorded_from: Annotated[
        Instant | None,
        Query(
            alias="from",
            description="events recorded at or after this instant (default: from the first); "
            "ISO 8601 with a time zone",
        ),
    ] = None,
    recorded_to: Annotated[
        Instant | None,
        Query(
            alias="to",
            description="events recorded at or before this instant (default: up to now); "
            "ISO 8601 with a time zone",
        ),
    ] = None,
) -> PeriodHistory:
    """A period's history between two instants: every event its views hold (versions
    recorded, further sources, corrections, interventions) recorded in [from, to], in order,
    each with the best version after it. A period the tenant knows nothing of has no steps."""
    return runtime_of(request).history(
        subject,
        settlement_date_of(settlement_date),
        settlement_period,
        tenant=tenant,
        recorded_from=as_of_of(recorded_from),
        recorded_to=as_of_of(recorded_to),
    )


@router.get(
    "/tenants/{tenant}/days/{subject}/{settlement_date}",
    response_model=DayView,
    responses=_QUERY_REFUSED,
)
def get_day(
    request: Request,
    tenant: Tenant,
    subject: Subject,
    settlement_date: SettlementDate,
    as_of: Annotated[Instant | None, Query(description=_AS_OF_DESCRIPTION)] = None,
    run: Annotated[RunQuery, Query(description=_RUN_DESCRIPTION, examples=["SF"])] = None,
) -> DayView:
    """A subject's whole settlement day: for every period (46, 48 or 50), the best version
    now, as known at ``as_of``, or as of a ``run`` (null for a period with none)."""
    return runtime_of(request).day(
        subject,
        settlement_date_of(settlement_date),
        tenant=tenant,
        as_of=as_of_of(as_of),
        run=run,
    )
