"""dagster-dbt imported without dbt-core, in every process that loads the definitions.

dbt runs in a process of its own (`dtm-dbt`, see defs/dbt.py). In this one, dagster-dbt only
reads the prepared manifest and dbt's JSON log lines, which it does the same without dbt-core:
the way it runs for dbt Fusion, where no dbt-core is installed. With dbt-core importable it
imports it anyway (its adapters, contracts and graph selection), in each process that loads the
definitions (`dtm`, the code server, every run's process, each test worker): loading them took
5.4-5.9 s, now 3.3 s. So dbt-core is hidden while dagster-dbt is imported, and only then.
"""

from __future__ import annotations

import importlib
import sys
from importlib.abc import MetaPathFinder

HIDDEN = "dbt"


class _HiddenPackage(MetaPathFinder):
    """Refuses the package `HIDDEN` and its modules, as if it were not installed."""

    def find_spec(self, name: str, path=None, target=None):
        if name == HIDDEN or name.startswith(f"{HIDDEN}."):
            raise ModuleNotFoundError(
                f"{name} is hidden while dagster-dbt is imported (orchestration/defs/dagster_dbt_import.py)",
                name=name,
            )
        return None


def import_dagster_dbt() -> None:
    """Import dagster-dbt as it imports without dbt-core (a no-op once it is imported). A process
    that has imported dbt already (dagster-dbt's own command line, `make manifest`) keeps
    dagster-dbt as it is: hiding the rest of dbt there would leave it half importable."""
    if HIDDEN in sys.modules:
        return
    finder = _HiddenPackage()
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("dagster_dbt")
    finally:
        sys.meta_path.remove(finder)
