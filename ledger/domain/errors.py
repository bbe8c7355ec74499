"""Errors that speak the market's language: each says what is wrong in business terms."""


class LedgerError(Exception):
    """Base class for every error the ledger reports to its users."""


class InvalidIdentifier(LedgerError, ValueError):
    """A market identifier (BSC Party, BM Unit, GSP Group, MPAN, subject) is malformed."""


class InvalidSettlementPeriod(LedgerError, ValueError):
    """A settlement date or period does not exist (e.g. period 49 on a 48-period day)."""


class InvalidInstant(LedgerError, ValueError):
    """An instant (an as-of time) is malformed, has no time zone or is out of range."""


class ConfigurationError(LedgerError):
    """The ledger is set up wrongly (``LEDGER_DATABASE_URL``, a command-line option): the
    message names the setting and what to do. Nothing was written."""


class UnknownRunType(LedgerError, ValueError):
    """A settlement run type is not one the market defines."""


class StageRefused(LedgerError):
    """A received file cannot go through a stage: its status does not allow it (validated
    again, or after its verdict: each file gets one verdict, reached in order), or the stage
    lacks what it needs (a rejection without a reason)."""


class InvalidCorrection(LedgerError, ValueError):
    """A correction names a version the settlement period does not have or one already
    corrected, a measure that version does not have, or no values."""


class InterventionRefused(LedgerError, ValueError):
    """A manual intervention the period's state does not allow (a second hold, a pin of a
    version it lacks or already pinned, a release of nothing), or one not written as one of
    the typed interventions (hold, pin VERSION, release)."""


class MissingAttribution(LedgerError, ValueError):
    """A correction or manual intervention does not name the person who made it and why."""


class LedgerBusy(LedgerError):
    """Another writer held the ledger for too long; nothing was lost, try again."""


class LedgerUnavailable(LedgerError):
    """The database could not be reached or was interrupted; nothing was lost, try again."""
