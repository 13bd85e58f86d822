"""Reading a catalogue file (CONTRACT section 2): text → document → models → values.

A catalogue decides who pays whom, so a file with any problem is refused whole, with
every problem listed (one sentence each, with its location), and nothing of it is used.

Pipeline: YAML/JSON text → plain document (dicts, lists, scalars) → pydantic models per
item (`catalogue_models`: shape, types, formats, ranges) → cross-reference rules
(`catalogue_checks`: duplicates, references, pricing combinations) → the frozen
dataclasses of `ledger.domain.catalogue`, with every list whose order carries no
meaning sorted by id, so a reordered file is the same catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ledger.domain.catalogue import (
    ROLE_ORDER,
    Catalogue,
    Licence,
    Municipality,
    Pricing,
    Product,
    School,
    Tier,
    Vendor,
)
from ledger.domain.catalogue_checks import cross_reference_problems
from ledger.domain.catalogue_models import LicenceModel, MunicipalityModel, VendorModel
from ledger.domain.catalogue_problems import (
    CatalogueRejected,
    bounded_problems,
    field_name,
    item_location,
    kind,
    label,
    shown,
)
from ledger.domain.invariants import invariant
from schemas.codec import message_bytes_max

catalogue_bytes_max: Final = 4 * 1024 * 1024  # the canonical JSON travels in one Kafka message
invariant(
    catalogue_bytes_max < message_bytes_max,
    "a catalogue marker (the canonical JSON and its header) must fit in one Kafka message",
)

# The deepest real item (a licence's pricing tiers) is 5 levels down; PyYAML composes nodes
# recursively, so an unbounded depth ends in RecursionError instead of a refusal.
catalogue_nesting_max: Final = 32

_Model = TypeVar("_Model", bound=BaseModel)
_top_level_keys: Final = ("municipalities", "vendors", "licences")


def load_catalogue_text(text: str) -> Catalogue:
    """A catalogue from YAML or JSON text (YAML 1.1 is a superset of JSON)."""
    size = len(text.encode("utf-8"))
    if size > catalogue_bytes_max:
        raise CatalogueRejected(
            [f"the file is {size} bytes; a catalogue may be at most {catalogue_bytes_max} bytes"]
        )
    try:
        document = yaml.load(text, Loader=_CatalogueLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        problem = f"the file is not valid YAML or JSON: {_yaml_problem(error)}"
        raise CatalogueRejected([problem]) from error
    return parse_catalogue(document)


def parse_catalogue(document: object) -> Catalogue:
    """A catalogue from a loaded document (CONTRACT section 2), or `CatalogueRejected`."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise CatalogueRejected(
            ["the catalogue must be a mapping with the keys municipalities, vendors, licences"]
        )
    for key in document:
        if key not in _top_level_keys:
            sections = ", ".join(_top_level_keys)
            problems.append(f"{shown(key)}: is not a known section (use {sections})")
    municipalities = _parse_items(document, "municipalities", MunicipalityModel, problems)
    vendors = _parse_items(document, "vendors", VendorModel, problems)
    licences = _parse_items(document, "licences", LicenceModel, problems)
    problems.extend(cross_reference_problems(document, municipalities, vendors, licences))
    if problems:
        raise CatalogueRejected(bounded_problems(problems))
    return _build(
        [model for _, model in municipalities],
        [model for _, model in vendors],
        [model for _, model in licences],
    )


def _parse_items(
    document: Mapping[object, object],
    section: str,
    model: type[_Model],
    problems: list[str],
) -> list[tuple[str, _Model]]:
    """Validate each item of a section on its own, so every item's problems are listed."""
    if section not in document:
        problems.append(f"{section}: is required (a list, possibly empty)")
        return []
    items = document[section]
    if not isinstance(items, list):
        problems.append(f"{section}: must be a list, not {kind(items)}")
        return []
    parsed: list[tuple[str, _Model]] = []
    for index, item in enumerate(items):
        location = item_location(section, index, item)
        try:
            parsed.append((location, model.model_validate(item)))
        except ValidationError as error:
            problems.extend(_pydantic_problems(location, item, error))
    return parsed


# ---------------------------------------------------------------------------------------
# Building the catalogue values (sorted: order in the file carries no meaning)


def _build(
    municipalities: Iterable[MunicipalityModel],
    vendors: Iterable[VendorModel],
    licences: Iterable[LicenceModel],
) -> Catalogue:
    return Catalogue(
        municipalities=tuple(
            Municipality(
                id=m.id,
                org_no=m.org_no,
                name=m.name,
                population=m.population,
                schools=tuple(
                    School(id=s.id, name=s.name, pupils=s.pupils)
                    for s in sorted(m.schools, key=lambda s: s.id)
                ),
                buyer_reference=m.buyer_reference,
            )
            for m in sorted(municipalities, key=lambda m: m.id)
        ),
        vendors=tuple(
            Vendor(
                org_no=v.org_no,
                name=v.name,
                products=tuple(
                    Product(id=p.id, name=p.name) for p in sorted(v.products, key=lambda p: p.id)
                ),
            )
            for v in sorted(vendors, key=lambda v: v.org_no)
        ),
        licences=tuple(_build_licence(lic) for lic in sorted(licences, key=lambda lic: lic.id)),
    )


def _build_licence(licence: LicenceModel) -> Licence:
    pricing = licence.pricing
    return Licence(
        id=licence.id,
        vendor=licence.vendor,
        products=tuple(sorted(licence.products)),
        buyers=tuple(sorted(licence.buyers)),
        schools=None if licence.schools is None else tuple(sorted(licence.schools)),
        valid_from=licence.valid_from,
        valid_to=licence.valid_to,
        vat_rate=licence.vat_rate,
        pricing=Pricing(
            metric=pricing.metric,
            unit=pricing.unit,
            unit_price=pricing.unit_price,
            tiers=None
            if pricing.tiers is None
            else tuple(Tier(up_to=t.up_to, unit_price=t.unit_price) for t in pricing.tiers),
            monthly_cap=pricing.monthly_cap,
            max_per_pupil=pricing.max_per_pupil,
        ),
        billable_roles=tuple(role for role in ROLE_ORDER if role in licence.billable_roles),
        split=licence.split,
        order_reference=licence.order_reference,
    )


# ---------------------------------------------------------------------------------------
# YAML loading


class _CatalogueLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (they can expand exponentially: "billion laughs"),
    duplicate keys (PyYAML would silently keep the last one), nesting deeper than
    `catalogue_nesting_max`, and reports scalars it cannot construct (2026-02-30, an
    integer of 5,000 digits) as YAML errors with their line, not as a crash."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        # Checked as early as the scanner sees "[" or "{": PyYAML scans a flow collection
        # ahead in time quadratic in its depth, long before a node is composed.
        if self.flow_level >= catalogue_nesting_max:
            raise yaml.scanner.ScannerError(
                None,
                None,
                f"nested more than {catalogue_nesting_max} levels deep",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (*name) are not allowed in a catalogue",
                event.start_mark,
            )
        if self._depth >= catalogue_nesting_max:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested more than {catalogue_nesting_max} levels deep",
                event.start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:
            problem = (
                "the whole number has too many digits"
                if node.tag == "tag:yaml.org,2002:int"
                else f"the value cannot be read ({' '.join(str(error).split())})"
            )
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from error

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the constructor reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} appears twice in one mapping",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(problem).split())


# ---------------------------------------------------------------------------------------
# Problem sentences


_messages: Final[Mapping[str, Callable[[Mapping[str, Any]], str]]] = {
    "missing": lambda error: "is required",
    "extra_forbidden": lambda error: "is not a known field",
    "string_type": lambda error: (
        "must be text"
        + (
            f' (write it in quotes: "{error["input"]}")'
            if isinstance(error["input"], int | float) and not isinstance(error["input"], bool)
            else f", not {kind(error['input'])}"
        )
    ),
    "int_type": lambda error: f"must be a whole number, not {kind(error['input'])}",
    "int_strict": lambda error: f"must be a whole number, not {kind(error['input'])}",
    "greater_than_equal": lambda error: f"must be at least {error['ctx']['ge']}",
    "less_than_equal": lambda error: f"must be at most {error['ctx']['le']}",
    "literal_error": lambda error: (
        f"must be {error['ctx']['expected']}, not {shown(error['input'])}"
    ),
    "list_type": lambda error: f"must be a list, not {kind(error['input'])}",
    "too_long": lambda error: f"must have at most {error['ctx']['max_length']} entries",
    "model_type": lambda error: f"must be a mapping (key: value), not {kind(error['input'])}",
    "model_attributes_type": lambda error: (
        f"must be a mapping (key: value), not {kind(error['input'])}"
    ),
    "value_error": lambda error: str(error["ctx"]["error"]),
}


def _pydantic_problems(location: str, item: object, error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        path = _field_path(location, item, detail["loc"])
        render = _messages.get(detail["type"])
        message = render(detail) if render is not None else detail["msg"]
        problems.append(f"{path}: {message}")
    return problems


def _field_path(location: str, item: object, loc: Sequence[int | str]) -> str:
    """municipalities[0] (3201).schools[2] (974626993).pupils"""
    path = location
    current: object = item
    for part in loc:
        if isinstance(part, int):
            current = current[part] if isinstance(current, list) and part < len(current) else None
            path += f"[{part}]" + label(current)
        else:
            current = current.get(part) if isinstance(current, dict) else None
            path += f".{field_name(part)}"
    return path
