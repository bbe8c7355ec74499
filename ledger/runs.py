"""Settlement run types and their order of maturity."""

from __future__ import annotations

from enum import StrEnum

from ledger.errors import UnknownRunType


class RunType(StrEnum):
    """Settlement runs, from the first interim run to the dispute final."""

    II = "II"
    SF = "SF"
    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    RF = "RF"
    DF = "DF"

    @property
    def maturity_rank(self) -> int:
        """Position in the order of maturity: II is 0, DF is 6."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> RunType:
        try:
            return cls(text.strip().upper())
        except ValueError:
            known = ", ".join(_ORDER)
            raise UnknownRunType(
                f"unknown settlement run type {text!r}; expected one of {known}"
            ) from None


_ORDER: tuple[RunType, ...] = tuple(RunType)
