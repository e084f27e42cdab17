from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "round_files"

# The modules that build whole warehouses, longest first (seconds of one `make test`, measured on
# two workers): `make test` hands modules to its two workers in this order, and a long module
# given out last ran alone at the end while the other worker had finished (crash safety, 78 s:
# 348 s against 300 s). The rest follow in collection order.
LONGEST_FIRST = (
    "test_end_to_end.py",  # 150 s
    "test_sign_off.py",  # 85 s
    "test_crash_safety.py",  # 78 s
    "test_incremental_builds.py",  # 76 s
    "test_field_end_to_end.py",  # 76 s
    "test_workbook_versions.py",  # 35 s
    "test_quality_gate.py",  # 22 s
    "test_gate_worker.py",  # 18 s
    "test_sample_history.py",  # 18 s
    "test_publication_memory.py",  # 14 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first (a stable sort keeps each module's tests in their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
