"""dbt's log lines made only where they are written.

dbt turns every event it fires into a line for each of its loggers (the JSON line on standard
output that dagster-dbt reads, the text line of dbt.log) and only then hands the line to
Python's logging, which drops it when the logger's level is above the event's. A build fires
about ten debug events a node (connections, each SQL statement) at loggers set to info: making
those lines was 1.1 s of the 7.7 s a new round's dbt nodes ran (py-spy). Patched, a logger
skips an event its level would drop before making the line; every line written is the same.
"""

from __future__ import annotations

import functools

from dbt_common.events import logger as dbt_logger

# dbt's event levels as Python's logging levels (dbt's own map, keyed by the level's name, as
# an event carries it).
_PYTHON_LEVELS = {level.value: number for level, number in dbt_logger._log_level_map.items()}


def write_only_kept_lines() -> None:
    """dbt's loggers skip the events their level drops (once per process)."""
    logger_class = dbt_logger._Logger
    if getattr(logger_class.write_line, "skips_dropped_events", False):
        return
    write_line = logger_class.write_line

    @functools.wraps(write_line)  # dbt's own stays reachable as __wrapped__
    def write_kept_line(self: dbt_logger._Logger, msg: dbt_logger.EventMsg) -> None:
        python_logger = self._python_logger
        if python_logger is None:
            return  # dbt made the line and wrote it nowhere
        level = _PYTHON_LEVELS.get(msg.info.level)
        # A print event is logged as an error, so it is always written; a level dbt does not
        # know is left to dbt, which raises.
        if level is None or dbt_logger._is_print_event(msg) or python_logger.isEnabledFor(level):
            write_line(self, msg)

    write_kept_line.skips_dropped_events = True
    logger_class.write_line = write_kept_line
