"""`stockout ui` serves the code location on loopback and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  schedules { name cronSchedule }
  assetNodes { assetKey { path } hasAssetChecks } } } } }"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_ui_shows_the_graph_checks_and_schedule(data_dir) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ui", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = graphql(port)
                if answer["data"]["repositoriesOrError"].get("nodes"):
                    break
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(2)
        assert answer is not None, "the Dagster UI did not answer within 180 s"
        repository = answer["data"]["repositoriesOrError"]["nodes"][0]
        assert {"name": "hourly_refresh", "cronSchedule": "0 * * * *"} in repository["schedules"]
        assets = {node["assetKey"]["path"][-1]: node["hasAssetChecks"] for node in repository["assetNodes"]}
        assert {"sales", "restocks", "inventory_snapshots", "at_risk_in_a_week", "analyst_mart"} <= set(
            assets
        )
        assert assets["at_risk_in_a_week"] is True
        assert (data_dir / "dagster_home" / "dagster.yaml").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("stockout ui did not stop on SIGTERM") from None
        # dagster dev's children (webserver, daemon) go with it
        subprocess.run(["pkill", "-KILL", "-g", str(process.pid)], check=False)
