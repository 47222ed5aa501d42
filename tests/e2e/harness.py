"""Acting as people on both sides of a running stack, and waiting for it to settle.

The stack is the product's own (`devstack/stack.py`): Postgres, Tansu, both simulators, the
api, the consumers and the poller, each a separate process. Tests drive the simulators' control
APIs as a person in each vendor's UI would, and read results back through them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg
import httpx

from devstack.stack import Stack

T = TypeVar("T")


def unique_email(tag: str = "p") -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.com"


# Idle connections are dropped before the servers' own keep-alive (uvicorn: 5 s) closes them: a
# request sent on a connection the server is closing at that instant fails with "Server
# disconnected without sending a response", which tests that wait out an outage would meet.
IDLE_CONNECTIONS = httpx.Limits(keepalive_expiry=2.0)

# The longest a retry waits on the e2e stack (tests/e2e/conftest.py, SCALED_WAITS): the longest
# backoff, or the longest the circuit stays open, and a margin.
RETRY_SETTLE_S = 2.0 + 2.0 + 0.5


class Harness:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        info = stack.info
        self.sf = httpx.Client(base_url=info["salesforce"], timeout=10, limits=IDLE_CONNECTIONS)
        self.gr = httpx.Client(base_url=info["getresponse"].removesuffix("/v3"), timeout=10, limits=IDLE_CONNECTIONS)
        self.database_url = info["database_url"].replace("postgresql+asyncpg", "postgresql")
        self._calls: dict[str, list[dict[str, Any]]] = {"salesforce": [], "getresponse": []}
        self._read_up_to: dict[str, int] = {"salesforce": 0, "getresponse": 0}
        self.sync_id = info["sync_id"]
        self.list_id = info["getresponse_list"]
        # Once a fault was injected, a change may sit on a retry topic, due within RETRY_SETTLE_S.
        self.faulted = False

    def close(self) -> None:
        self.sf.close()
        self.gr.close()

    # --- Salesforce, as a person in its UI -------------------------------------------------------

    def sf_create(self, object_type: str = "Lead", **fields: Any) -> str:
        response = self.sf.post(f"/_sim/records/{object_type}", json=fields)
        assert response.status_code < 300, response.text
        record_id: str = response.json()["id"]
        return record_id

    def sf_update(self, record_id: str, object_type: str = "Lead", **fields: Any) -> None:
        response = self.sf.patch(f"/_sim/records/{object_type}/{record_id}", json=fields)
        assert response.status_code < 300, response.text

    def sf_delete(self, record_id: str, object_type: str = "Lead") -> None:
        response = self.sf.delete(f"/_sim/records/{object_type}/{record_id}")
        assert response.status_code < 300, response.text

    def sf_undelete(self, record_id: str, object_type: str = "Lead") -> None:
        response = self.sf.post(f"/_sim/records/{object_type}/{record_id}/undelete")
        assert response.status_code < 300, response.text

    def sf_get(self, record_id: str, object_type: str = "Lead") -> dict[str, Any]:
        response = self.sf.get(f"/_sim/records/{object_type}/{record_id}")
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def sf_records(self, object_type: str = "Lead") -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.sf.get(f"/_sim/records/{object_type}").json()
        return records

    def sf_by_email(self, email: str) -> list[dict[str, Any]]:
        return [
            r for t in ("Lead", "Contact") for r in self.sf_records(t)
            if (r.get("Email") or "").lower() == email.lower() and not r.get("IsDeleted")
        ]

    # --- GetResponse, as a person in its UI or on a form ------------------------------------------

    def gr_subscribe(self, email: str, name: str | None = None, **custom: str) -> str:
        body: dict[str, Any] = {"email": email, "campaignId": self.list_id}
        if name is not None:
            body["name"] = name
        if custom:
            body["customFieldValues"] = [{"customFieldId": k, "value": [v]} for k, v in custom.items()]
        response = self.gr.post("/_sim/contacts", json=body)
        assert response.status_code < 300, response.text
        contact_id: str = response.json()["contactId"]
        return contact_id

    def gr_edit(self, contact_id: str, *, name: str | None = None, **custom: str | None) -> None:
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if custom:
            body["customFieldValues"] = [
                {"customFieldId": k, "value": [v] if v is not None else []} for k, v in custom.items()
            ]
        response = self.gr.patch(f"/_sim/contacts/{contact_id}", json=body)
        assert response.status_code < 300, response.text

    def gr_unsubscribe(self, contact_id: str) -> None:
        response = self.gr.post(f"/_sim/contacts/{contact_id}/unsubscribe")
        assert response.status_code < 300, response.text

    def gr_resubscribe(self, contact_id: str) -> str:
        response = self.gr.post(f"/_sim/contacts/{contact_id}/resubscribe")
        assert response.status_code < 300, response.text
        new_id: str = response.json().get("contactId", contact_id)
        return new_id

    def gr_delete(self, contact_id: str) -> None:
        response = self.gr.delete(f"/_sim/contacts/{contact_id}")
        assert response.status_code < 300, response.text

    def gr_contacts(self, email: str, list_id: str | None = None) -> list[dict[str, Any]]:
        """The contacts with this email on the stack's own list (or on `list_id`)."""
        wanted = list_id or self.list_id
        return [c for c in self.gr_contacts_any(email) if c["campaign"]["campaignId"] == wanted]

    def gr_contacts_any(self, email: str) -> list[dict[str, Any]]:
        """The contacts with this email on any list."""
        found: list[dict[str, Any]] = self.gr.get("/_sim/contacts", params={"email": email}).json()
        return found

    def gr_active(self, email: str, list_id: str | None = None) -> dict[str, Any] | None:
        return next((c for c in self.gr_contacts(email, list_id) if c["state"] == "active"), None)

    @staticmethod
    def custom(contact: dict[str, Any], field_id: str) -> str | None:
        for entry in contact.get("customFieldValues") or []:
            if entry["customFieldId"] == field_id:
                values = entry.get("values") or entry.get("value") or []
                return values[0] if values else None
        return None

    # --- faults ------------------------------------------------------------------------------------

    def faults(self, vendor: str, **faults: Any) -> None:
        if faults:
            self.faulted = True
        client = self.sf if vendor == "salesforce" else self.gr
        response = client.post("/_sim/faults", json=faults)
        assert response.status_code < 300, response.text

    def clear_faults(self) -> None:
        self.faults("salesforce")
        self.faults("getresponse")

    # --- observing ---------------------------------------------------------------------------------

    def calls(self, vendor: str) -> list[dict[str, Any]]:
        """Vendor-API calls, without the poller's periodic search (it runs whether or not anything
        changed, so it is no sign of a loop)."""
        client = self.sf if vendor == "salesforce" else self.gr
        # Only what is new: by the end of a run the logs hold tens of thousands of calls.
        new: list[dict[str, Any]] = client.get("/_sim/calls", params={"since": self._read_up_to[vendor]}).json()
        if new:
            self._read_up_to[vendor] = new[-1]["seq"]
        known = self._calls[vendor]
        known.extend(c for c in new if "changedOn" not in c["query"] and c["path"] != "/services/oauth2/token")
        return known

    def writes(self, vendor: str, since: int = 0) -> list[dict[str, Any]]:
        return [c for c in self.calls(vendor) if c["method"] in {"POST", "PATCH", "DELETE"} and c["seq"] > since]

    def last_seq(self, vendor: str) -> int:
        calls = self.calls(vendor)
        return calls[-1]["seq"] if calls else 0

    def deliveries(self, vendor: str, since: int = 0) -> list[dict[str, Any]]:
        """The simulator's delivery attempts (to the api) after attempt number `since`."""
        client = self.sf if vendor == "salesforce" else self.gr
        attempts: list[dict[str, Any]] = client.get("/_sim/deliveries", params={"since": since}).json()
        return attempts

    def last_delivery(self, vendor: str) -> int:
        return len(self.deliveries(vendor))

    def idle(self) -> bool:
        return bool(self.sf.get("/_sim/idle").json()["idle"] and self.gr.get("/_sim/idle").json()["idle"])

    def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.database_url)
            try:
                return list(await connection.fetch(sql, *args))
            finally:
                await connection.close()

        return asyncio.run(run())

    def pending_links(self) -> int:
        rows = self.query("SELECT count(*) FROM contact_links WHERE state = 'pending' AND next_lookup_at IS NOT NULL")
        return int(rows[0][0])

    def wait_quiet(self, *, settle: float = 1.5, within: float = 60.0) -> None:
        """Until nothing is in flight: both simulators idle, no create awaiting its id, and no new
        vendor call for `settle` seconds (longer once a fault was injected: a retry may be waiting
        for its due time, or for the vendor's circuit to probe)."""
        if self.faulted:
            settle = max(settle, RETRY_SETTLE_S)
        deadline = time.monotonic() + within
        last: tuple[int, int] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            counts = (len(self.calls("salesforce")), len(self.calls("getresponse")))
            busy = not self.idle() or self.pending_links() > 0
            if busy or counts != last:
                last, since = counts, time.monotonic()
            elif time.monotonic() - since >= settle:
                return
            time.sleep(0.1)
        raise AssertionError("the stack did not settle in time")

    @staticmethod
    def until(probe: Callable[[], T | None], within: float = 10.0, what: str = "condition") -> tuple[T, float]:
        """Poll `probe` until it returns something truthy; returns it and the seconds it took."""
        started = time.monotonic()
        while True:
            found = probe()
            if found:
                return found, time.monotonic() - started
            if time.monotonic() - started > within:
                raise AssertionError(f"{what}: not met within {within} s")
            time.sleep(0.05)


def issue_token(database_url: str, *scopes: str) -> str:
    """An API token straight from the tokens service (what `sfgr tokens create` does)."""
    from app.control.tokens import create_token
    from app.db.session import create_engine, session_factory
    from app.settings import Settings

    async def run() -> str:
        engine = create_engine(Settings(database_url=database_url))  # type: ignore[arg-type]
        try:
            async with session_factory(engine)() as session:
                issued = await create_token(session, name="e2e", scopes=scopes)
        finally:
            await engine.dispose()
        return issued.token

    return asyncio.run(run())
