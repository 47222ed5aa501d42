"""`python -m simulators.salesforce` starts the simulator with its configuration from flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.ports import free_port
from simulators.salesforce.__main__ import _parser, config_from
from tests.fixtures.polling import eventually

ROOT = Path(__file__).resolve().parents[3]


def test_flags_become_the_config(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n")
    args = _parser().parse_args(
        [
            "--port",
            "9000",
            "--outbound-url",
            "http://127.0.0.1:8000/om?key=k",
            "--cdc-url",
            "http://127.0.0.1:8000/cdc",
            "--cdc-secret",
            "s",
            "--api-quota",
            "7",
            "--environment",
            "sandbox",
            "--duplicate-rule-on-email",
            "--time-scale",
            "0.01",
            "--jwt-public-key-file",
            str(key),
        ]
    )
    config = config_from(args)
    assert config.outbound_url == "http://127.0.0.1:8000/om?key=k" and config.cdc_secret == "s"
    assert config.api_quota == 7 and config.environment == "sandbox" and config.duplicate_rule_on_email
    assert config.delivery_time_scale == 0.01 and config.jwt_public_key == key.read_text()
    assert config_from(_parser().parse_args(["--port", "1"])).duplicate_rule_on_email is False
    with pytest.raises(ValueError, match="00D"):
        config_from(_parser().parse_args(["--port", "1", "--org-id", "nope"]))


def test_the_module_runs_a_server_on_the_given_port() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.salesforce", "--port", str(port), "--api-quota", "42"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/services/data/", timeout=1).status_code == 200
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                return False

        eventually(up, timeout=20, interval=0.1)
        assert httpx.get(f"{url}/_sim/config").json()["api_quota"] == 42
    finally:
        process.terminate()
        process.wait(timeout=10)
