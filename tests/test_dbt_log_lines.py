"""dbt, patched, skips the events no logger writes and the lines a logger's level drops: every
line written, and every message a callback gets, is the one dbt's own code makes, at every
level, in both of dbt's line formats, with and without a callback of its own."""

import io
import itertools

import pytest
from dbt.tracking import track_behavior_change_warn
from dbt_common.events import base_types, event_manager
from dbt_common.events import logger as dbt_logger
from dbt_common.events.base_types import EventLevel
from dbt_common.events.types import Note, PrintEvent

from orchestration.dbt_log_lines import make_only_written_lines

EVENTS = [
    (Note(msg="a connection opened"), EventLevel.DEBUG),
    (Note(msg="a test query"), EventLevel.TEST),
    (Note(msg="1 of 2 START test not_null"), EventLevel.INFO),
    (Note(msg="a deprecated config"), EventLevel.WARN),
    (Note(msg="Database Error in model"), EventLevel.ERROR),
    (PrintEvent(msg="what dbt show prints"), EventLevel.DEBUG),
]
_PYTHON = {level: dbt_logger._log_level_map[level] for level in EventLevel}  # as logging levels
FORMATS = {"stdout": dbt_logger.LineFormat.Json, "dbt.log": dbt_logger.LineFormat.DebugText}
names = itertools.count()


def manager_with_loggers(manager_class, logger_write_line, levels, callbacks):
    """An event manager with dbt's two loggers (JSON on standard output, text in dbt.log) at
    these levels; their streams and the lines each logger made."""
    manager = manager_class()
    streams, made = {}, {}
    for name, line_format in FORMATS.items():
        kind = dbt_logger._JsonLogger if line_format == dbt_logger.LineFormat.Json else dbt_logger._TextLogger
        streams[name], made[name] = io.StringIO(), []
        logger = type("Logger", (kind,), {"write_line": logger_write_line})(
            dbt_logger.LoggerConfig(
                f"test-{next(names)}",
                level=levels[name],
                line_format=line_format,
                output_stream=streams[name],
            )
        )
        make_line = logger.create_line
        logger.create_line = lambda msg, make_line=make_line, lines=made[name]: (
            lines.append(msg.info.msg) or make_line(msg)
        )
        manager.loggers.append(logger)
    manager.callbacks = list(callbacks)
    return manager, streams, made


@pytest.mark.parametrize("own_callback", [False, True])
@pytest.mark.parametrize(
    "levels",
    [
        {"stdout": EventLevel.INFO, "dbt.log": EventLevel.INFO},  # the builds'
        {"stdout": EventLevel.DEBUG, "dbt.log": EventLevel.INFO},  # --debug
        {"stdout": EventLevel.ERROR, "dbt.log": EventLevel.INFO},  # --quiet
        {"stdout": EventLevel.INFO, "dbt.log": EventLevel.DEBUG},  # log_level_file: debug
    ],
)
def test_dbt_makes_only_the_lines_it_writes_and_writes_the_same_lines(monkeypatch, levels, own_callback):
    make_only_written_lines()
    monkeypatch.setattr(base_types, "get_json_string_utcnow", lambda: "2026-12-02T10:00:00.000000Z")
    messages = []
    made_message = base_types.msg_from_base_event

    def counted(event, level=None):
        messages.append(event.message())
        return made_message(event, level)

    monkeypatch.setattr(event_manager, "msg_from_base_event", counted)
    outcomes = {}
    for version, manager_class, write_line in (
        (
            "dbt's",
            type(
                "Unpatched",
                (event_manager.EventManager,),
                {"fire_event": event_manager.EventManager.fire_event.__wrapped__},
            ),
            dbt_logger._Logger.write_line.__wrapped__,
        ),
        ("patched", event_manager.EventManager, dbt_logger._Logger.write_line),
    ):
        given = []
        callbacks = [track_behavior_change_warn] + (
            [lambda msg, given=given: given.append(msg.info.msg)] if own_callback else []
        )
        manager, streams, made = manager_with_loggers(manager_class, write_line, levels, callbacks)
        messages.clear()
        for event, level in EVENTS:
            manager.fire_event(event, level=level)
        outcomes[version] = {
            "written": {name: stream.getvalue() for name, stream in streams.items()},
            "given": given,
            "messages": list(messages),
            "made": made,
        }

    dbts, patched = outcomes["dbt's"], outcomes["patched"]
    # the same lines written, the same messages given to a callback
    assert patched["written"] == dbts["written"] and patched["given"] == dbts["given"]
    assert all(dbts["written"].values()) and dbts["messages"] == [e.message() for e, _ in EVENTS]
    # a line is made only where it is written: at or above the logger's level, and the print
    for name, level in levels.items():
        kept = _PYTHON[level]
        assert patched["made"][name] == [
            e.msg for e, event_level in EVENTS if _PYTHON[event_level] >= kept or isinstance(e, PrintEvent)
        ]
    # a message is made unless nothing writes or gets the event: debug events at loggers at info
    lowest = min(_PYTHON[level] for level in levels.values())
    assert patched["messages"] == [
        e.msg
        for e, event_level in EVENTS
        if own_callback
        or _PYTHON[event_level] >= min(lowest, _PYTHON[EventLevel.INFO])
        or isinstance(e, PrintEvent)
    ]
