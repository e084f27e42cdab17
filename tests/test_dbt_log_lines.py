"""dbt's loggers, patched, skip the events their level drops and write every line they wrote
before, at every level and in both of dbt's line formats."""

import io

import pytest
from dbt_common.events import logger as dbt_logger
from dbt_common.events.base_types import EventLevel
from dbt_common.events.event_manager import EventManager
from dbt_common.events.types import Note, PrintEvent

from orchestration.dbt_log_lines import write_only_kept_lines

EVENTS = [
    (Note(msg="a connection opened"), EventLevel.DEBUG),
    (Note(msg="a test query"), EventLevel.TEST),
    (Note(msg="1 of 2 START test not_null"), EventLevel.INFO),
    (Note(msg="a deprecated config"), EventLevel.WARN),
    (Note(msg="Database Error in model"), EventLevel.ERROR),
    (PrintEvent(msg="what dbt show prints"), None),
]


@pytest.mark.parametrize("line_format", [dbt_logger.LineFormat.Json, dbt_logger.LineFormat.DebugText])
@pytest.mark.parametrize("level", [EventLevel.DEBUG, EventLevel.INFO, EventLevel.ERROR])
def test_a_logger_makes_only_the_lines_it_writes_and_writes_the_same_lines(level, line_format):
    write_only_kept_lines()
    dbts_own = dbt_logger._Logger.write_line.__wrapped__
    kind = dbt_logger._JsonLogger if line_format == dbt_logger.LineFormat.Json else dbt_logger._TextLogger

    class Unpatched(kind):
        write_line = dbts_own

    streams = {"patched": io.StringIO(), "dbt": io.StringIO()}
    made = []
    patched = kind(
        dbt_logger.LoggerConfig(
            f"patched-{level}-{line_format}",
            level=level,
            line_format=line_format,
            output_stream=streams["patched"],
        )
    )
    make_line = patched.create_line
    patched.create_line = lambda msg: made.append(msg.info.msg) or make_line(msg)
    manager = EventManager()
    manager.loggers = [
        patched,
        Unpatched(
            dbt_logger.LoggerConfig(
                f"dbt-{level}-{line_format}",
                level=level,
                line_format=line_format,
                output_stream=streams["dbt"],
            )
        ),
    ]
    for event, event_level in EVENTS:
        manager.fire_event(event, level=event_level)

    # the same messages (one message each, both loggers given the same events)
    assert streams["patched"].getvalue() == streams["dbt"].getvalue()
    # and lines made only for the events written: at or above the level, and dbt show's print
    written = {
        EventLevel.DEBUG: [e.msg for e, _ in EVENTS],
        EventLevel.INFO: [
            "1 of 2 START test not_null",
            "a deprecated config",
            "Database Error in model",
            "what dbt show prints",
        ],
        EventLevel.ERROR: ["Database Error in model", "what dbt show prints"],
    }[level]
    assert made == written
    assert all(message in streams["dbt"].getvalue() for message in written)
