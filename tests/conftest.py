from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "round_files"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
