"""dbt's log lines made only where they are written.

dbt turns every event it fires into a message (its text, a timestamp, protobuf), then into a
line for each of its loggers (the JSON line on standard output that dagster-dbt reads, the
text line of dbt.log), and only then hands the line to Python's logging, which drops it when
the logger's level is above the event's. A build fires about ten debug events a node
(connections, each SQL statement) at loggers set to info: making their lines was 1.1 s of the
7.7 s a new round's dbt nodes ran (py-spy), and making their messages most of the rest of
dbt's event handling. Patched, dbt skips an event no logger writes before making its message,
and a logger skips an event its level drops before making its line: every line written is the
same, and so is everything a callback is given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from dbt.tracking import track_behavior_change_warn
from dbt_common.events import event_manager
from dbt_common.events import logger as dbt_logger
from dbt_common.events.base_types import BaseEvent, EventLevel

# dbt's event levels as Python's logging levels (dbt's own map, keyed by the level's name, as
# an event's message carries it).
_PYTHON_LEVELS = {level.value: number for level, number in dbt_logger._log_level_map.items()}
# The only events skipped: a warning can be turned into an error (--warn-error), and is never
# skipped.
_SKIPPABLE = frozenset({EventLevel.DEBUG, EventLevel.TEST})
# The callback dbt's command line registers: it reads behaviour-change warnings only. With any
# other callback (dbt run as a library), every event is made, as dbt makes it.
_KNOWN_CALLBACKS = (track_behavior_change_warn,)


def make_only_written_lines() -> None:
    """Patch dbt (once per process): events no logger writes are skipped, and each logger
    skips the events its level drops."""
    _patch_once(event_manager.EventManager, "fire_event", _fire_written_event)
    _patch_once(dbt_logger._Logger, "write_line", _write_kept_line)


def _patch_once(owner: type, name: str, patch: Callable[[Callable], Callable]) -> None:
    """owner.name replaced by patch(dbt's own), which stays reachable as __wrapped__."""
    own = getattr(owner, name)
    if hasattr(own, "__wrapped__"):
        return  # patched already in this process
    setattr(owner, name, functools.wraps(own)(patch(own)))


def _writes(python_logger, level: int) -> bool:
    return python_logger is not None and python_logger.isEnabledFor(level)


def _fire_written_event(fire_event: Callable) -> Callable:
    def fire_written_event(
        self: event_manager.EventManager,
        e: BaseEvent,
        level: EventLevel | None = None,
        node=None,
        force_warn_or_error_handling: bool = False,
    ) -> None:
        event_level = level or e.level_tag()
        if (
            event_level in _SKIPPABLE
            and not force_warn_or_error_handling
            and type(e).__name__ not in dbt_logger.PRINT_EVENT_NAMES  # written as errors
            and all(callback in _KNOWN_CALLBACKS for callback in self.callbacks)
            and not any(
                _writes(logger._python_logger, _PYTHON_LEVELS[event_level.value]) for logger in self.loggers
            )
        ):
            return
        fire_event(self, e, level, node, force_warn_or_error_handling)

    return fire_written_event


def _write_kept_line(write_line: Callable) -> Callable:
    def write_kept_line(self: dbt_logger._Logger, msg: dbt_logger.EventMsg) -> None:
        if self._python_logger is None:
            return  # dbt made the line and wrote it nowhere
        level = _PYTHON_LEVELS.get(msg.info.level)
        # A print event is logged as an error, so it is always written; a level dbt does not
        # know is left to dbt, which raises.
        if level is None or dbt_logger._is_print_event(msg) or _writes(self._python_logger, level):
            write_line(self, msg)

    return write_kept_line
