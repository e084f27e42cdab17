"""dtm-dbt hands its command to the dbt server its parent started ahead of the builds (dbt's
output and exit code come back as from dbt itself, from a fork of the server that imported dbt
once); without a server, dtm-dbt runs dbt on its own. Every `dtm run` of the end-to-end tests
builds through a server too."""

import json
import subprocess
import sys
from pathlib import Path

# In a process of its own, as `dtm` starts its server. Each dtm-dbt runs under `-X importtime`,
# which lists on its standard error every module that process imports: a command served by the
# server's fork never imports dbt in dtm-dbt's own process.
COMMANDS = """
import json, signal, subprocess, sys
from pathlib import Path
from orchestration import dbt_server, helper_process

dtm_dbt = str(Path(sys.executable).with_name("dtm-dbt"))

def started(*args):
    return subprocess.Popen(
        [sys.executable, "-X", "importtime", dtm_dbt, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )

def report(process):
    out, err = process.communicate(timeout=120)
    imported_dbt = any(line.endswith("| dbt.cli.main") for line in err.splitlines())
    return [process.returncode, out, err[-3000:], imported_dbt]

dbt_server.start()
server = dbt_server._server
# a usage error and a command at once, both through the same server
both = [started("--no-such-option"), started("--version")]
print(json.dumps([report(process) for process in both] + [server.poll()]))
# a third command: the server still serves
print(json.dumps([report(started("--version")), server.poll()]))
server.send_signal(signal.SIGKILL)
server.wait()
print(json.dumps(report(started("--version"))))  # no server: dbt itself
dbt_server.start()
again = report(started("--version"))
helper_process.stop(dbt_server._server)  # the end of its input, as at the end of `dtm`
print(json.dumps([again, dbt_server._server.returncode]))
"""


def test_dbt_runs_in_forks_of_the_server_its_parent_started_then_on_its_own():
    done = subprocess.run(
        [sys.executable, "-c", COMMANDS],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (at_once, third, alone, again) = [json.loads(line) for line in done.stdout.splitlines()[-4:]]
    (usage, version, running) = at_once
    # the usage error came from dbt in the server's fork: dbt's exit code and message
    assert usage[0] == 2 and "No such option" in usage[2] and not usage[3]
    # the other command, at the same time: dbt's output on the client's standard output
    assert version[0] == 0 and "installed: 1.11" in version[1] and not version[3]
    # the server runs on after its commands, and serves the next one
    assert running is None
    assert third[0][0] == 0 and "installed: 1.11" in third[0][1] and not third[0][3] and third[1] is None
    # with the server gone, dtm-dbt imported and ran dbt itself
    assert alone[0] == 0 and "installed: 1.11" in alone[1] and alone[3]
    # a new server serves, and ends at the end of its input
    assert again[0][0] == 0 and "installed: 1.11" in again[0][1] and not again[0][3]
    assert again[1] == 0
