"""The OpenAPI schema says what the API does: schemathesis, in process against the app on
SQLite, with every check and its examples, coverage, fuzzing and stateful phases, finds
nothing. Bounded: seeded, derandomized, a few examples per operation.

Where the schema cannot state a rule, a schema-valid request may still be refused with the
documented 400 (see BUSINESS_REFUSALS): everything else the API refuses, the schema says.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from test_api import report

from api.app import create_app
from ledger.service.runtime import LedgerRuntime

_PERIOD = "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}"
# Operations where a schema-valid request may be refused for a business reason no schema can
# state, with the 400 each documents: why, beside each.
BUSINESS_REFUSALS = {
    # A period the day does not have (49 on a 48-period day), an MPAN's check digit.
    f"GET {_PERIOD}": "period of the day, MPAN check digit",
    f"GET {_PERIOD}/history": "period of the day, MPAN check digit, from after to",
    f"GET {_PERIOD}/documents": "period of the day, MPAN check digit",
    "GET /tenants/{tenant}/days/{subject}/{settlement_date}": "MPAN check digit",
    "GET /tenants/{tenant}/exceptions": "MPAN check digit",
    "GET /tenants/{tenant}/mappings": "MPAN check digit",
    "GET /layouts/{file_type}": "a flow version the ledger has no table for",
    # Commands: printable text, a version the period lacks, what the state allows, clashes.
    f"POST {_PERIOD}/corrections": "the version corrected, values of its measures",
    f"POST {_PERIOD}/interventions": "what the period's state allows",
    "POST /tenants/{tenant}/flows": "a printable file name",
    "POST /tenants/{tenant}/documents": "a period with no version under the rule, or held; "
    "a reference issued already; an as-of instant later than now",
    "POST /tenants/{tenant}/mappings": "clashes, dates, printable text",
    "POST /tenants/{tenant}/mappings/{mapping_id}/end": "an end that ends nothing sooner",
    "POST /tenants/{tenant}/mappings/{mapping_id}/correct": "clashes, a change of nothing",
    "POST /tenants/{tenant}/exceptions/{exception}/assign": "printable text",
    "POST /tenants/{tenant}/exceptions/{exception}/{change}": "what the status allows",
}
# What the positive-data check accepts of a schema-valid request (its default, and 400).
_ACCEPTED_WITH_REFUSAL = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
# Phases that must have run.
PHASES = {"examples", "coverage", "fuzzing", "stateful"}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LedgerRuntime]:
    opened = LedgerRuntime(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        # Something to read: the examples' tenant's settlement report.
        assert opened.ingest_bytes(report(), file_name="sf.txt", tenant="acme").status == (
            "accepted"
        )
        yield opened
    finally:
        opened.close()


def contract_config() -> SchemathesisConfig:
    operations: list[dict[str, Any]] = [
        {
            "include-name": name,
            "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED_WITH_REFUSAL}},
        }
        for name in BUSINESS_REFUSALS
    ]
    # A stream never ends: read it for a moment, or up to a few events.
    operations.append(
        {
            "include-name": "GET /tenants/{tenant}/feed/stream",
            "request-timeout": 0.3,
            "max-stream-events": 20,
        }
    )
    config = SchemathesisConfig.from_dict(
        {
            "seed": 16,
            "generation": {"max-examples": 5, "deterministic": True, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 10},
            },
            "operations": operations,
        }
    )
    # Every check (the command line's -c all); a response time limit as generous as any
    # other wait in the suite (never a measure of speed).
    config.projects.default.checks.update(included_check_names=["all"], max_response_time=60.0)
    return config


def test_schemathesis_finds_nothing(runtime: LedgerRuntime) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(runtime), config=contract_config()
    )
    failures: dict[tuple[str, str], str] = {}
    errors: list[str] = []
    phases: dict[str, Status] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemathesis's own, about its generation
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                for checks in event.recorder.checks.values():
                    for check in checks:
                        if check.failure_info is not None:
                            failure = check.failure_info.failure
                            key = (event.recorder.label, check.name)
                            failures.setdefault(
                                key, f"{failure.title}: {check.failure_info.code_sample}"
                            )
            elif isinstance(event, events.NonFatalError | events.FatalError):
                errors.append(repr(event))
            elif isinstance(event, events.PhaseFinished):
                phases[event.phase.name.value] = event.status
    assert errors == []
    assert PHASES <= phases.keys(), phases
    assert all(phases[name] is not Status.SKIP for name in PHASES), phases
    assert failures == {}, "\n".join(f"{k}: {v[:500]}" for k, v in sorted(failures.items()))
