"""The gate worker (GX imported ahead in a process of its own) gives the verdict a gate computes
in its own process: the same failures, a Data Docs page, the gate's errors raised where it was
asked; once it has gone, the gate validates in its own process. Every `dtm run` of the
end-to-end tests gates through a worker too."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.test_quality_gate import FIXTURE_FRAME_IN_ITS_OWN_PROCESS

FIXTURES = Path(__file__).parent / "fixtures" / "round_files"
IDP_FIXTURE = FIXTURES / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"

# In a process of its own, as `dtm` starts its worker.
WORKER = (
    FIXTURE_FRAME_IN_ITS_OWN_PROCESS
    + """
import dataclasses, json, os, signal
from orchestration.quality import gate, gate_worker

broken["location_id"] = broken["location_id"].astype(object)
broken.loc[2, "location_id"] = None
broken.loc[5, "location_id"] = "27A6001"
suite = gate.load_suite("idp")

gate_worker.start()
served, page = gate_worker.check(broken, suite, render=True)
gx_imported_here = "great_expectations" in sys.modules
unknown = {"name": "x", "expectations": [{"type": "expect_nothing_of_the_kind", "kwargs": {}}]}
try:
    gate_worker.check(broken, unknown, render=False)
    raised = None
except Exception as error:
    raised = type(error).__name__
os.kill(gate_worker._worker.pid, signal.SIGKILL)
gate_worker._worker.wait()
alone, no_page = gate_worker.check(broken, suite, render=False)
inline, inline_page = gate.check_frame(broken, suite, render=True)
print(json.dumps({
    "served": [dataclasses.asdict(f) for f in served],
    "alone": [dataclasses.asdict(f) for f in alone],
    "inline": [dataclasses.asdict(f) for f in inline],
    "page": page, "no_page": no_page, "inline_page": inline_page,
    "gx_imported_here": gx_imported_here, "raised": raised,
    "broken_rows": [int(broken.loc[i, "source_row_number"]) for i in (2, 5)],
}))
"""
)


def in_its_own_process(script: str) -> dict:
    """The script run on the IDP fixture in a process of its own; what it printed last (JSON)."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(IDP_FIXTURE)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,  # a hang fails the test instead of stopping the suite
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_worker_gives_the_gates_own_verdict_and_the_gate_goes_on_without_it():
    found = in_its_own_process(WORKER)
    # the worker's failures are those of a gate in this process, row for row
    null_row, regex_row = found["broken_rows"]
    assert {(f["expectation"], tuple(f["sample_rows"])) for f in found["served"]} == {
        ("expect_column_values_to_not_be_null", (null_row,)),
        ("expect_column_values_to_match_regex", (regex_row,)),
    }
    assert found["served"] == found["inline"]
    # its Data Docs page is GX's, naming what failed, as the gate's own
    for page in (found["page"], found["inline_page"]):
        assert page.lstrip().lower().startswith("<!doctype html") or "<html" in page.lower()
        assert "regular expression" in page and "location_id" in page
    assert found["no_page"] is None
    # GX stayed in the worker: the process that asked never imported it
    assert found["gx_imported_here"] is False
    # a suite GX refuses fails in the process that asked, as the gate's own error
    assert found["raised"] == "ExpectationNotFoundError"
    # the worker gone (killed), the gate validated here, with the same verdict
    assert found["alone"] == found["inline"]


# A frame of several MB, sent while the worker reads nothing (stopped) and a signal handler runs
# in the asking thread: the pipe's write is cut short, and the rest must still be sent.
INTERRUPTED = (
    FIXTURE_FRAME_IN_ITS_OWN_PROCESS
    + """
import dataclasses, json, os, signal, threading, time
import pandas as pd
from orchestration.quality import gate, gate_worker

broken.loc[2, "location_id"] = None
large = pd.concat([broken] * 400, ignore_index=True)
suite = gate.load_suite("idp")
signal.signal(signal.SIGUSR1, lambda *_: None)
gate_worker.start()
asking = threading.main_thread().ident

def interrupt():
    os.kill(gate_worker._worker.pid, signal.SIGSTOP)
    time.sleep(0.5)
    for _ in range(3):
        signal.pthread_kill(asking, signal.SIGUSR1)
        time.sleep(0.1)
    os.kill(gate_worker._worker.pid, signal.SIGCONT)

threading.Thread(target=interrupt).start()
served, _ = gate_worker.check(large, suite, render=False)
inline, _ = gate.check_frame(large, suite, render=False)
print(json.dumps({
    "served": [dataclasses.asdict(f) for f in served],
    "inline": [dataclasses.asdict(f) for f in inline],
    "worker_alive": gate_worker._worker.poll() is None,
}))
"""
)


def test_a_request_cut_short_by_a_signal_is_sent_whole():
    """A signal (Ctrl-Z and fg, a handler's signal) during a large request's write cut the
    pipe's write short and left both processes waiting for each other, for ever."""
    found = in_its_own_process(INTERRUPTED)
    assert found["worker_alive"] is True  # answered by the worker, not by the fallback
    assert found["served"] == found["inline"]
    # the null the frame was given, and its 400 copies' rows repeated
    assert {f["expectation"] for f in found["served"]} == {
        "expect_column_values_to_not_be_null",
        "expect_compound_columns_to_be_unique",
    }


# Two processes that end as `dtm run` ends: one never asks its worker (nothing to load), one asks
# it once. A handler registered before the worker started runs after the worker's own (exit
# handlers run last registered first) and prints how the worker ended.
ENDED = (
    FIXTURE_FRAME_IN_ITS_OWN_PROCESS
    + """
import atexit, sys
from orchestration.quality import gate, gate_worker

atexit.register(lambda: print(gate_worker._worker.returncode, flush=True))
gate_worker.start()
if sys.argv[2] == "asked":
    gate_worker.check(broken, gate.load_suite("idp"), render=False)
"""
)


def test_a_worker_never_asked_is_killed_at_the_end_and_one_asked_ends_with_its_input():
    """`dtm run` starts its worker before it knows whether anything is to load: with nothing to
    load, its end does not wait for the worker to finish importing GX."""
    ends = {}
    for asked in ("not asked", "asked"):
        done = subprocess.run(
            [sys.executable, "-c", ENDED, str(IDP_FIXTURE), asked],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        ends[asked] = int(done.stdout.splitlines()[-1])
    assert ends == {"not asked": -signal.SIGKILL, "asked": 0}
