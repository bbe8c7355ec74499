"""Field layouts of the SAA-I014 Settlement Report, per sub-flow and version.

The facts are data, not code: ``ledger/flows/layouts/saa_i014.toml`` lists, for every version
the ledger knows (S0141 008-014, S0144 009-014, S0142 013), every record type and its fields in
order, with the IDD data item, type and presence of each, and where the sources state them the
field's sign. Its header names the sources. The file is read once, on first use.

A field's position is 1-based and does not count the record id: in ``BP7|2__AALAB000|0|...|``,
position 1 is ``2__AALAB000``. Units are derived from the IDD type (a decimal with 2 places is
GBP, 3 places MWh, 5 places GBP/MWh, 7 or more a factor), corrected by name where the file says
the rule is wrong; a unit of None means the type does not fix one. A sign of None means the
sources do not state what a positive value means to the party: never assume one.

Versions (:func:`layout_for`):

- a file type the ledger has a table for (``S0141013``) is read with exactly that layout;
- a newer or in-between version of a known flow, one above the lowest version the ledger knows
  (``S0142014``, ``S0141015``), is read with the nearest known version not above it, with a
  warning that says so. SAA-I014 versions have so far mostly appended fields at the end of a
  record, so the older layout places every field it knows and the new ones are kept unread; a
  person should still check the new version's changes, which is what the warning is for;
- a version below every version the ledger knows of its flow (``S0141007``), a flow that is not
  S0141, S0142 or S0144, or a malformed file type is refused with :class:`UnknownFlowVersion`:
  an older layout may place fields where the newer ones do not (S0141 009 inserted a field at
  position 2 of ``BOA``), and nothing is read by guesswork.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import excerpt

__all__ = [
    "FLOWS",
    "FieldLayout",
    "FlowLayout",
    "RecordLayout",
    "UnknownFlowVersion",
    "known_file_types",
    "layout_for",
    "load_layouts",
    "measure_units",
]

FLOWS = ("S0141", "S0142", "S0144")
_PACKAGE = "ledger.flows.layouts"
_RESOURCE = "saa_i014.toml"
_LABEL = "ledger/flows/layouts/saa_i014.toml"

_FILE_TYPE = re.compile(r"(S\d{4})(\d{3})")
_NUMERIC_TYPE = re.compile(r"(decimal|number)(?:\((\d+)(?:,(\d+))?\))?")
_ITEM = re.compile(r"N\d{4}")
_RECORD_ID = re.compile(r"[A-Z0-9]{3}")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_STATUSES = frozenset({"C", "N", "L", "P", "?"})
_SIGNS = frozenset({"debit", "credit"})
_FIELD_KEYS = frozenset({"pos", "item", "name", "type", "required", "status", "sign"})
_RECORD_KEYS = frozenset({"name", "parent", "cardinality", "fields"})
_LAYOUT_KEYS = frozenset({"flow_name", "based_on", "order", "record"})
_UNIT_BY_SCALE = {2: "GBP", 3: "MWh", 5: "GBP/MWh"}
_FACTOR_SCALE = 7


class UnknownFlowVersion(LedgerError, ValueError):
    """A file type names a flow or version whose field layout the ledger does not have and
    cannot stand in for (older than every known version, another flow, or malformed)."""


def _scale_of(type_: str) -> int | None:
    match = _NUMERIC_TYPE.fullmatch(type_)
    if match is None or match.group(2) is None:
        return None
    return int(match.group(3) or 0)


@dataclass(frozen=True, slots=True)
class FieldLayout:
    """One field of a record: where it is, which IDD item it carries, and how to read it.

    ``status`` (S0142 only) says how the position is known: C confirmed by a named source, N
    named by a weak source, L inferred from layout, P inferred from value profile, ? unknown.
    ``sign`` is "debit" (a positive value is owed by the party) or "credit" (owed to it), or
    None where the sources do not state it.
    """

    position: int
    name: str
    item: str | None
    type: str
    required: bool
    status: str | None
    unit: str | None
    sign: str | None

    @property
    def scale(self) -> int | None:
        """Decimal places of a decimal or number type (0 for ``number(4)``), else None."""
        return _scale_of(self.type)

    @property
    def is_decimal(self) -> bool:
        """Whether the IDD types the field as a decimal or number."""
        return _NUMERIC_TYPE.fullmatch(self.type) is not None


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """One record type of a flow version: its fields in order, and where it sits in the file."""

    record_type: str
    title: str
    parent: str | None
    cardinality: str | None
    fields: tuple[FieldLayout, ...]

    def position(self, name: str) -> int:
        """The 1-based position of the field called ``name``."""
        for field in self.fields:
            if field.name == name:
                return field.position
        raise KeyError(f"record {self.record_type} ({self.title}) has no field {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)


@dataclass(frozen=True, slots=True)
class FlowLayout:
    """Every record type of one flow version, by record id, in file order."""

    file_type: str
    flow: str
    version: int
    records: Mapping[str, RecordLayout]

    def record(self, record_type: str) -> RecordLayout | None:
        return self.records.get(record_type)


# --- Loading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Units:
    overrides: Mapping[str, str]
    unstated: frozenset[str]

    def unit(self, name: str, type_: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        if name in self.unstated:
            return None
        scale = _scale_of(type_)
        if scale is None:
            return None
        if scale >= _FACTOR_SCALE:
            return "factor" if type_.startswith("decimal") else None
        return _UNIT_BY_SCALE.get(scale)


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key!r} must be non-empty text")
    return value


def _optional_text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    return _text(raw, key, where) if key in raw else None


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)}")


def _check_choice(value: str | None, choices: frozenset[str], what: str, where: str) -> None:
    if value is not None and value not in choices:
        raise ValueError(f"{where}: {what} {value!r} is not one of {', '.join(sorted(choices))}")


def _field(raw_value: object, where: str, units: _Units) -> FieldLayout:
    raw = _table(raw_value, f"{where}: a field")
    _check_keys(raw, _FIELD_KEYS, where)
    position, required = raw.get("pos"), raw.get("required")
    if type(position) is not int or position < 1:
        raise ValueError(f"{where}: a field's pos must be a whole number >= 1")
    where = f"{where} position {position}"
    if not isinstance(required, bool):
        raise ValueError(f"{where}: 'required' must be true or false")
    name, type_ = _text(raw, "name", where), _text(raw, "type", where)
    if not _NAME.fullmatch(name):
        raise ValueError(f"{where}: name {name!r} is not snake_case ASCII")
    item = _optional_text(raw, "item", where)
    if item is not None and not _ITEM.fullmatch(item):
        raise ValueError(f"{where}: item {item!r} is not an IDD item id (Nnnnn)")
    status, sign = _optional_text(raw, "status", where), _optional_text(raw, "sign", where)
    _check_choice(status, _STATUSES, "status", where)
    _check_choice(sign, _SIGNS, "sign", where)
    unit = units.unit(name, type_)
    return FieldLayout(position, name, item, type_, required, status, unit, sign)


def _record(record_type: str, raw_value: object, where: str, units: _Units) -> RecordLayout:
    raw = _table(raw_value, where)
    _check_keys(raw, _RECORD_KEYS, where)
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise ValueError(f"{where}: 'fields' must be a non-empty list")
    fields = tuple(_field(f, where, units) for f in raw_fields)
    if [f.position for f in fields] != list(range(1, len(fields) + 1)):
        raise ValueError(f"{where}: field positions must run 1..{len(fields)} in order")
    names = [f.name for f in fields]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{where}: field names repeated: {', '.join(repeated)}")
    return RecordLayout(
        record_type=record_type,
        title=_text(raw, "name", where),
        parent=_optional_text(raw, "parent", where),
        cardinality=_optional_text(raw, "cardinality", where),
        fields=fields,
    )


def _order(raw: Mapping[str, Any], where: str) -> list[str]:
    order = raw.get("order")
    if not isinstance(order, list) or not order:
        raise ValueError(f"{where}: 'order' must list the record ids")
    if not all(isinstance(r, str) and _RECORD_ID.fullmatch(r) for r in order):
        raise ValueError(f"{where}: 'order' must hold three-character record ids")
    if len(set(order)) != len(order):
        raise ValueError(f"{where}: 'order' repeats a record id")
    return order


class _Resolver:
    """Builds each layout once, a ``based_on`` layout before the layouts that reuse it."""

    def __init__(self, layouts: Mapping[str, Any], units: _Units, label: str) -> None:
        self._raw, self._units, self._label = layouts, units, label
        self._done: dict[str, FlowLayout] = {}
        self._pending: set[str] = set()

    def layout(self, file_type: str) -> FlowLayout:
        if file_type in self._done:
            return self._done[file_type]
        where = f"{self._label}: layout {file_type}"
        match = _FILE_TYPE.fullmatch(file_type)
        if match is None or file_type not in self._raw or file_type in self._pending:
            raise ValueError(f"{where} is malformed, missing, or based on itself")
        self._pending.add(file_type)
        raw = _table(self._raw[file_type], where)
        _check_keys(raw, _LAYOUT_KEYS, where)
        based_on = _optional_text(raw, "based_on", where)
        inherited = self.layout(based_on).records if based_on is not None else {}
        records = self._records(raw, inherited, where)
        layout = FlowLayout(file_type, match.group(1), int(match.group(2)), records)
        self._done[file_type] = layout
        return layout

    def _records(
        self, raw: Mapping[str, Any], inherited: Mapping[str, RecordLayout], where: str
    ) -> Mapping[str, RecordLayout]:
        order = _order(raw, where)
        tables = _table(raw.get("record", {}), f"{where}: 'record'")
        stray = sorted(set(tables) - set(order))
        if stray:
            raise ValueError(f"{where}: records {', '.join(stray)} are not in 'order'")
        records: dict[str, RecordLayout] = {}
        for record_type in order:
            if record_type in tables:
                label = f"{where} record {record_type}"
                records[record_type] = _record(record_type, tables[record_type], label, self._units)
            elif record_type in inherited:
                records[record_type] = inherited[record_type]
            else:
                raise ValueError(f"{where}: record {record_type} has no table here or in a base")
        orphans = sorted(r.record_type for r in records.values() if r.parent not in (None, *order))
        if orphans:
            raise ValueError(f"{where}: records {', '.join(orphans)} name a parent not in it")
        return MappingProxyType(records)


def _units(raw: Mapping[str, Any], label: str) -> _Units:
    where = f"{label}: [units]"
    overrides = _table(raw.get("overrides", {}), f"{where} overrides")
    unstated = raw.get("unstated", [])
    if not all(isinstance(v, str) for v in overrides.values()):
        raise ValueError(f"{where}: every override must be a unit name")
    if not isinstance(unstated, list) or not all(isinstance(v, str) for v in unstated):
        raise ValueError(f"{where}: 'unstated' must list field names")
    return _Units(MappingProxyType(dict(overrides)), frozenset(unstated))


def load_layouts(path: str | os.PathLike[str] | None = None) -> Mapping[str, FlowLayout]:
    """Every layout in a layout file, by file type, each complete (``based_on`` resolved).

    By default the packaged ``layouts/saa_i014.toml``; a malformed file raises ValueError
    naming the file and the place in it.
    """
    if path is None:
        text = resources.files(_PACKAGE).joinpath(_RESOURCE).read_text(encoding="utf-8")
        label = _LABEL
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        label = os.fspath(path)
    data = tomllib.loads(text)
    units = _units(_table(data.get("units", {}), f"{label}: [units]"), label)
    raw_layouts = _table(data.get("layout"), f"{label}: [layout]")
    resolver = _Resolver(raw_layouts, units, label)
    layouts = {ft: resolver.layout(ft) for ft in raw_layouts}
    ordered = sorted(layouts.values(), key=lambda lay: (lay.flow, lay.version))
    return MappingProxyType({lay.file_type: lay for lay in ordered})


@lru_cache(maxsize=1)
def _packaged_layouts() -> Mapping[str, FlowLayout]:
    return load_layouts()


@lru_cache(maxsize=1)
def measure_units() -> Mapping[str, str]:
    """The unit of every value the settlement reports carry, by its IDD name (the measure a
    version records it as), over every known version; a name with no unit is left out.

    A name has one unit in every record and version that carries it (checked here: the
    loader's rule and its overrides are by name), so a measure's unit never depends on the
    file it came from."""
    units: dict[str, str] = {}
    for layout in _packaged_layouts().values():
        for record in layout.records.values():
            for field in record.fields:
                if field.unit is None:
                    continue
                known = units.setdefault(field.name, field.unit)
                if known != field.unit:
                    raise ValueError(
                        f"{_LABEL}: {field.name} is {known} in one record and {field.unit} in "
                        f"{layout.file_type} {record.record_type}"
                    )
    return MappingProxyType(units)


# --- Choosing a layout ----------------------------------------------------------------------


def known_file_types() -> tuple[str, ...]:
    """Every file type the ledger has a field table for, by flow then version."""
    return tuple(_packaged_layouts())


def layout_for(file_type: str) -> tuple[FlowLayout, str | None]:
    """The layout to read ``file_type`` with, and a warning when it is a stand-in.

    The exact layout and None when the ledger has one; for a later version of a known flow, the
    nearest known version below it and a warning sentence; otherwise UnknownFlowVersion (see
    the module docstring for the policy).
    """
    layouts = _packaged_layouts()
    exact = layouts.get(file_type)
    if exact is not None:
        return exact, None
    match = _FILE_TYPE.fullmatch(file_type)
    if match is None:
        raise UnknownFlowVersion(
            f"{excerpt(file_type)} is not a file type (a flow id and a three-digit version, "
            f"e.g. S0142013); the ledger has field tables for {', '.join(layouts)}"
        )
    flow, version = match.group(1), int(match.group(2))
    known = [lay for lay in layouts.values() if lay.flow == flow]
    if not known:
        raise UnknownFlowVersion(
            f"{file_type}: the ledger has no field table for any version of flow {flow}; "
            f"it has tables for the settlement report flows {', '.join(FLOWS)}"
        )
    older = [lay for lay in known if lay.version < version]
    if not older:
        raise UnknownFlowVersion(
            f"{file_type} is older than every version of {flow} the ledger has a field table "
            f"for ({', '.join(lay.file_type for lay in known)}), so it cannot be read"
        )
    nearest = older[-1]
    warning = (
        f"{file_type} has no field table in the ledger; read with the {nearest.file_type} "
        f"layout (fields beyond it are kept unread)"
    )
    return nearest, warning
