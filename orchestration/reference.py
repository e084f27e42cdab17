"""The project's own copies of the reference tables (dbt seeds), read by Python code.

dbt reads the same CSV files as seeds, so each table lives in one place.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import yaml

from orchestration.rules import name_key
from orchestration.settings import DBT_PROJECT_DIR, SEEDS_DIR


def read_seed(relative: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / relative).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class HeaderAlias:
    list_type: str
    canonical_column: str
    alias: str
    eras: tuple[str, ...]


@cache
def header_aliases() -> tuple[HeaderAlias, ...]:
    return tuple(
        HeaderAlias(row["list_type"], row["canonical_column"], row["alias"], tuple(row["eras"].split()))
        for row in read_seed("config/header_aliases.csv")
    )


@cache
def alias_lookup(list_type: str) -> dict[str, str]:
    """Normalised header → canonical column, for one list type."""
    lookup: dict[str, str] = {}
    for alias in header_aliases():
        if alias.list_type != list_type:
            continue
        key = name_key(alias.alias)
        previous = lookup.setdefault(key, alias.canonical_column)
        if previous != alias.canonical_column:
            raise ValueError(
                f"header_aliases.csv: '{alias.alias}' ({list_type}) means both {previous} "
                f"and {alias.canonical_column}"
            )
    return lookup


@cache
def canonical_columns(list_type: str) -> tuple[str, ...]:
    """Every canonical column of a list type, in the order of the alias table."""
    seen: dict[str, None] = {}
    for alias in header_aliases():
        if alias.list_type == list_type:
            seen.setdefault(alias.canonical_column)
    return tuple(seen)


@cache
def breakdown_categories() -> tuple[dict[str, str], ...]:
    return tuple(read_seed("config/breakdown_categories.csv"))


@cache
def governorates() -> tuple[dict[str, str], ...]:
    return tuple(read_seed("crosswalks/governorates.csv"))


@cache
def district_crosswalk() -> tuple[dict[str, str], ...]:
    return tuple(read_seed("crosswalks/dtm_district_crosswalk.csv"))


@cache
def ki_need_choices() -> tuple[str, ...]:
    """The KI form's `priority_needs` choices (XML names), from the dbt variable staging uses."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return tuple(project["vars"]["ki_need_choices"])
