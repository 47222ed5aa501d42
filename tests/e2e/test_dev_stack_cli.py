"""`sfgr dev up` prints one JSON object and leaves a ready stack; `sfgr dev down` leaves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

REQUIRED = {
    "api", "database_url", "kafka", "salesforce", "getresponse", "salesforce_org_id",
    "getresponse_webhook_secret", "change_events_secret", "api_token", "salesforce_client_id",
    "salesforce_client_secret", "getresponse_api_key", "event_relay_url", "event_relay_key",
    "salesforce_pubsub",
}


def _running(pid: int, argv: list[str]) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return [c.decode() for c in cmdline if c] == argv


def test_dev_up_prints_one_json_object_and_dev_down_leaves_no_process_behind() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-cli-")) / "stack"
    sfgr = [sys.executable, "-m", "app"]
    try:
        up = subprocess.run([*sfgr, "dev", "up", "--dir", str(state_dir)], capture_output=True, text=True,
                            timeout=180, check=False)
        assert up.returncode == 0, up.stderr[-3000:]
        lines = [line for line in up.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, up.stdout
        info = json.loads(lines[0])
        assert REQUIRED <= set(info), REQUIRED - set(info)
        assert httpx.get(f"{info['api']}/readyz", timeout=10).status_code == 200
        token = {"Authorization": f"Bearer {info['api_token']}"}
        assert httpx.get(f"{info['api']}/v1/syncs", headers=token, timeout=10).status_code == 200
        started = json.loads((state_dir / "stack.json").read_text())["processes"]
        assert {p["name"] for p in started} >= {"kafka", "api", "poller", "subscriber", "salesforce-simulator",
                                                 "getresponse-simulator"}
        assert info["salesforce_pubsub"].startswith("127.0.0.1:")
    finally:
        down = subprocess.run([*sfgr, "dev", "down", "--dir", str(state_dir)], capture_output=True, text=True,
                              timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert not any(_running(p["pid"], p["argv"]) for p in started)
    assert not state_dir.exists()
    assert subprocess.run(["pgrep", "-f", str(state_dir)], capture_output=True, check=False).returncode == 1
