"""`make ui-check`: start the Dagster UI on loopback, screenshot the pages a data engineer reads
first with headless Chromium, stop the UI. The screenshots are for a person to look at.

Run it after `make run` (the pages show that run's history). Not part of CI: it needs Debian's
`chromium` package and a free port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = int(os.environ.get("DTM_UI_CHECK_PORT", "3111"))
BASE = f"http://127.0.0.1:{PORT}"
OUT = ROOT / "data" / "ui-check"
START_TIMEOUT_S = 180

RUN_QUERY = """
{ runsOrError(filter: {pipelineName: "load_rounds"}, limit: 1) { ... on Runs { results { runId } } } }
"""


def pages(run_id: str | None) -> dict[str, str]:
    """What a new data engineer looks at: file name → page."""
    found = {
        "01_catalog": "/assets",
        "02_lineage": "/asset-groups",
        "03_raw_ki_reports_partitions": "/assets/raw/kobo_ki_reports?view=partitions",
        "04_raw_idp_list_latest": "/assets/raw/dtm_idp_master_list",
        "05_mart_idps_by_governorate": "/assets/marts/idps_by_governorate",
        "06_load_rounds_job_runs": "/locations/dtm_warehouse/jobs/load_rounds/runs",
        "07_automation": "/automation",
        "08_landing_sensor": "/locations/dtm_warehouse/sensors/landing_sensor",
        "09_concurrency": "/deployment/concurrency",
        "10_landing_asset": "/assets/landing/dtm_round_files",
    }
    if run_id:
        found["11_load_run"] = f"/runs/{run_id}"
    return found


def graphql(query: str) -> dict:
    request = urllib.request.Request(
        f"{BASE}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def wait_until_up(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"dagster dev ended before it served the UI (exit {process.returncode})")
        try:
            with urllib.request.urlopen(f"{BASE}/server_info", timeout=2):
                pass
            # The code location loads after the server answers.
            if graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"):
                return
        except OSError:
            time.sleep(1)
    sys.exit(f"The UI did not answer on {BASE} within {START_TIMEOUT_S} s")


def screenshot(chromium: str, url: str, target: Path, profile: Path) -> None:
    subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={target}",
            "--window-size=1600,1000",
            "--virtual-time-budget=20000",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("make ui-check needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    dagster = Path(sys.executable).with_name("dagster")
    # dagster dev started from a script ignores SIGINT unless it is reset in the child.
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(PORT)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,
    )
    try:
        wait_until_up(process)
        runs = graphql(RUN_QUERY)["runsOrError"].get("results") or []
        profile = OUT / ".chromium-profile"
        for name, page in pages(runs[0]["runId"] if runs else None).items():
            target = OUT / f"{name}.png"
            screenshot(chromium, BASE + page, target, profile)
            print(f"{target.relative_to(ROOT)}  ←  {page}")
        shutil.rmtree(profile, ignore_errors=True)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"Screenshots in {OUT.relative_to(ROOT)}/; the UI is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
