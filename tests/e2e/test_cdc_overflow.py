"""A CDC overflow on a stack of this module's own: the overflow re-reads every record of the object
changed in the last minutes, and on the shared stack that would be the thousands of Leads other
tests made."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.defaults import COMPANY_FIELD
from devstack.stack import Stack, down, up
from tests.e2e.harness import Harness, unique_email


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-overflow-"))
    running = up(state_dir)
    try:
        yield running
    finally:
        down(state_dir)

def test_a_cdc_overflow_rereads_the_records_no_event_described(e2e: Harness) -> None:
    config = e2e.sf.get("/_sim/config").json()
    silent = {"outbound_url": None, "cdc_url": None}
    assert e2e.sf.post("/_sim/config", json=silent).status_code == 200
    try:
        email = unique_email("overflow")
        e2e.sf_create("Lead", FirstName="Over", LastName="Flow", Email=email, Company="Bulk Load Inc")
    finally:
        restore = {"outbound_url": config["outbound_url"], "cdc_url": config["cdc_url"]}
        assert e2e.sf.post("/_sim/config", json=restore).status_code == 200
    time.sleep(1)
    assert e2e.gr_contacts(email) == []  # nothing told the sync about it
    response = e2e.sf.post("/_sim/cdc/gap", json={"entity": "Lead", "changeType": "GAP_OVERFLOW"})
    assert response.status_code == 200, response.text
    contact, _ = e2e.until(lambda: e2e.gr_active(email), within=10, what="re-read after the overflow")
    assert e2e.custom(contact, COMPANY_FIELD) == "Bulk Load Inc"
