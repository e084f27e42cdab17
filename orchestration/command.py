"""The `dtm` command's process: `orchestration.cli`, ended by process_exit."""

from orchestration import process_exit


def main() -> None:
    process_exit.arm()
    from orchestration.cli import main as dtm

    process_exit.finish(dtm())
