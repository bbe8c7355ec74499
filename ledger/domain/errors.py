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


class FlowRejected(LedgerError):
    """A received flow failed validation; ``reasons`` say why, in business terms."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class LedgerBusy(LedgerError):
    """Another writer held the ledger for too long; nothing was lost, try again."""


class LedgerUnavailable(LedgerError):
    """The database could not be reached or was interrupted; nothing was lost, try again."""
