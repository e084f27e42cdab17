"""The round's charts drawn in a process of their own while the publication writes its files
and its workbook: on two cores the charts (about 1.8 s of matplotlib) no longer add to the
publication's time. A process, not a thread: matplotlib and xlsxwriter are both Python that
holds the GIL. Started as `python -m orchestration.publish.charts_process <published file>
<folder> <round>`, it prints the names of the files it wrote, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def start(published: Path, folder: Path, partition_key: str) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", __name__, str(published), str(folder), partition_key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, folder: Path) -> list[Path]:
    """The charts the process wrote; its own error, if it failed."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"drawing the charts into {folder} failed:\n{err.strip()[-3000:]}")
    return [folder / name for name in json.loads(out)]


def main(argv: list[str]) -> None:
    from orchestration.publish.charts import write_charts
    from orchestration.publish.warehouse_file import quiet_connect

    published, folder, partition_key = argv
    with quiet_connect(Path(published)) as con:
        charts = write_charts(con, Path(folder), partition_key)
    print(json.dumps([path.name for path in charts]))


if __name__ == "__main__":
    main(sys.argv[1:])
