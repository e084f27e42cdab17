"""Resources: where the landing zone and the working warehouse are."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration import settings


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB file (raw → marts) and the landing folder it loads from."""

    database_path: str
    landing_path: str
    published_path: str | None = None

    @property
    def database(self) -> Path:
        return Path(self.database_path)

    @property
    def landing(self) -> Path:
        return Path(self.landing_path)

    @property
    def published(self) -> Path:
        """Where publications go; beside the working file unless set."""
        return Path(self.published_path) if self.published_path else self.database.parent / "published"


def default_warehouse() -> WarehouseResource:
    return WarehouseResource(
        database_path=str(settings.warehouse_path()),
        landing_path=str(settings.landing_dir()),
        published_path=str(settings.published_dir()),
    )
