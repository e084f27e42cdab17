"""Every published table and column says what it holds, and the marts follow one convention of
names and units (README, "Conventions of the marts"): read from dbt's manifest, which is what
the published file's comments and the workbook's README sheet are written from."""

import json
import re

import pytest

from orchestration.defs.dbt_project import dbt_project
from orchestration.publish.warehouse_file import PUBLICATION_INFO, PUBLISHED_SCHEMA


@pytest.fixture(scope="module")
def marts() -> dict[str, dict]:
    manifest = json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == PUBLISHED_SCHEMA
    }


def test_every_mart_and_every_column_has_a_description(marts):
    assert len(marts) >= 25
    missing = [
        f"{name}.{column}"
        for name, node in marts.items()
        for column, spec in node["columns"].items()
        if not spec.get("description", "").strip()
    ]
    assert missing == []
    assert [name for name, node in marts.items() if not node["description"].strip()] == []
    # publication_info is written by the publication, not dbt: its descriptions live there
    assert all(text.strip() for text in PUBLICATION_INFO.values())


def test_every_mart_has_an_enforced_contract(marts):
    assert [name for name, node in marts.items() if not node["config"]["contract"]["enforced"]] == []


def test_one_convention_for_shares_and_people(marts):
    columns = {
        (name, column): spec for name, node in marts.items() for column, spec in node["columns"].items()
    }
    # no percents anywhere: a ratio is a fraction, and its name says share
    assert [c for c in columns if re.search(r"pct|percent", c[1])] == []
    shares = {c: spec for c, spec in columns.items() if "share" in c[1]}
    assert shares and all(spec["data_type"] == "double" for spec in shares.values())
    # aggregated marts name people by who they are (idps, returnees), never `individuals`
    aggregated = [name for name in marts if not name.startswith(("fct_", "dim_"))]
    assert [(n, c) for (n, c) in columns if n in aggregated and c in ("individuals", "households")] == []
    # areas are admin<level>_pcode / _name everywhere
    assert [c for c in columns if re.match(r"area_(pcode|name)$", c[1])] == []


def test_every_model_and_seed_column_declared_is_described():
    """What the UI shows of every dbt asset: no column declared (for its tests) without words."""
    manifest = json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    assert len(nodes) > 50
    assert [
        f"{node['name']}.{column}"
        for node in nodes
        for column, spec in node["columns"].items()
        if not spec.get("description", "").strip()
    ] == []
    assert [node["name"] for node in nodes if not node["description"].strip()] == []
