"""Resources: where the landing zone and the working warehouse are."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB file (raw → marts) and the landing folder it loads from."""

    database_path: str
    landing_path: str

    @property
    def database(self) -> Path:
        return Path(self.database_path)

    @property
    def landing(self) -> Path:
        return Path(self.landing_path)


def default_warehouse() -> WarehouseResource:
    return WarehouseResource(
        database_path=str(settings.warehouse_path()), landing_path=str(settings.landing_dir())
    )
