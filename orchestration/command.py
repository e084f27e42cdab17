"""The `dtm` command's process: `orchestration.cli`, ended by process_exit."""

import sys

from orchestration import process_exit


def main() -> None:
    process_exit.arm()
    if sys.argv[1:2] == ["run"]:
        # The gates' worker imports GX on the other core while this process imports Dagster:
        # started later, beside the load, the first gate waited 1.3-1.5 s for it (measured). A
        # run with nothing to load kills it at its end (gate_worker._stop).
        from orchestration.quality import gate_worker

        gate_worker.start()
    from orchestration.cli import main as dtm

    process_exit.finish(dtm())
