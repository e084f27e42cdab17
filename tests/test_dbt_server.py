"""dtm-dbt hands its command to the dbt server its parent started ahead of the build (dbt's
output and exit code come back as from dbt itself); once the server has served, dtm-dbt runs
dbt on its own. Every `dtm run` of the end-to-end tests builds through a server too."""

import json
import subprocess
import sys
from pathlib import Path

# In a process of its own, as `dtm` starts its server: what each command returned, and how the
# server that ran it ended (None: no server ran it).
COMMANDS = """
import json, subprocess, sys
from pathlib import Path
from orchestration import dbt_server

dtm_dbt = str(Path(sys.executable).with_name("dtm-dbt"))

def command(*args):
    done = subprocess.run([dtm_dbt, *args], capture_output=True, text=True)
    server = dbt_server._waiting
    print(json.dumps([done.returncode, done.stdout, done.stderr, server.wait(timeout=60)]))

dbt_server.start()
command("--no-such-option")  # a usage error: dbt's exit code 2, through the server
done = subprocess.run([dtm_dbt, "--version"], capture_output=True, text=True)
print(json.dumps([done.returncode, done.stdout, done.stderr, None]))  # no server: dbt itself
dbt_server.start()
command("--version")
"""


def test_dbt_runs_in_the_server_its_parent_started_then_on_its_own():
    done = subprocess.run(
        [sys.executable, "-c", COMMANDS],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (usage, alone, served) = [json.loads(line) for line in done.stdout.splitlines()[-3:]]
    # the usage error came from dbt in the server, which ended with dbt's exit code
    assert usage[0] == 2 and "No such option" in usage[2] and usage[3] == 2
    # the next command found no server waiting, and ran dbt itself
    assert alone[0] == 0 and "installed: 1.11" in alone[1]
    # a new server, and dbt's output on the client's standard output
    assert served[0] == 0 and "installed: 1.11" in served[1] and served[3] == 0
