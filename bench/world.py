"""The running product, and acting on it as people do: the dev stack plus both simulators'
control APIs (simulators/README.md), with the vendor-call logs read incrementally.

The benchmarks drive Salesforce and GetResponse the way a person in each vendor's UI would, and
observe only what a person (or the vendor's own bill) could: values appearing on the other side
and the vendor-API calls each simulator received.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import asyncpg
import httpx

from devstack.stack import Stack, down, up

T = TypeVar("T")
VENDORS = ("salesforce", "getresponse")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class Timeout(Exception):
    """Something the benchmark waited for did not happen in time."""


def unique_tag() -> str:
    return uuid.uuid4().hex[:8]


def classify(call: dict[str, Any]) -> str:
    """`poll` (the poller's periodic changedOn search), `oauth`, `read` or `write`."""
    if "changedOn" in call["query"]:
        return "poll"
    if call["path"].startswith("/services/oauth2/"):
        return "oauth"
    return "write" if call["method"] in WRITE_METHODS else "read"


@dataclass(frozen=True)
class Floor:
    """The time GetResponse's limits alone impose on some calls (api-contracts B10): 80 calls a
    second and 30,000 per 10 minutes, and for `/contacts/batch` 1 a second and 80 per 10 minutes."""

    calls: int
    batches: int
    seconds: float


def getresponse_floor(calls: list[dict[str, Any]]) -> Floor:
    """The floor of GetResponse calls from its log (OAuth left out; the poller's searches count:
    they draw on the same budget)."""
    made = [c for c in calls if classify(c) != "oauth"]
    batches = sum(1 for c in made if c["method"] == "POST" and c["path"].endswith("/contacts/batch"))
    frames = max((len(made) - 1) // 30_000, (batches - 1) // 80 if batches else 0)
    seconds = max(len(made) / 80, float(max(0, batches - 1)), 600.0 * frames)
    return Floor(len(made), batches, seconds)


@dataclass(frozen=True)
class Mark:
    """A position in both vendors' call logs."""

    salesforce: int
    getresponse: int


@dataclass
class CallCount:
    reads: int = 0
    writes: int = 0
    polls: int = 0
    oauth: int = 0
    throttled: int = 0  # reads and writes answered 429 (counted in reads and writes too)

    @property
    def counted(self) -> int:
        """Calls that cost something per change: reads and writes, not the periodic search or OAuth."""
        return self.reads + self.writes


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the stack is torn down either way."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def running_stack() -> Iterator[Stack]:
    """The whole product as separate processes in a temporary directory, always torn down."""
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-bench-"))
    try:
        started = time.monotonic()
        stack = up(state_dir)
        print(f"  stack up in {time.monotonic() - started:.1f} s ({state_dir})", flush=True)
        yield stack
    finally:
        # A second Ctrl-C while tearing down would leave processes behind: finish the job first.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            stopped = down(state_dir)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        print(f"\n  stack down ({len(stopped)} processes stopped)", flush=True)


class World:
    """Both simulators as people see them, the product's control API, and the vendors' call logs."""

    def __init__(self, stack: Stack) -> None:
        info = stack.info
        self.stack = stack
        self.info = info
        self.env = stack.env
        self.sf = httpx.Client(base_url=info["salesforce"], timeout=10)
        self.gr = httpx.Client(base_url=info["getresponse"].removesuffix("/v3"), timeout=10)
        self.api = httpx.Client(
            base_url=info["api"], headers={"Authorization": f"Bearer {info['api_token']}"}, timeout=150
        )
        self.list_id: str = info["getresponse_list"]
        self.sync_id: str = info["sync_id"]
        self._calls: dict[str, list[dict[str, Any]]] = {v: [] for v in VENDORS}
        self._counted: dict[str, int] = dict.fromkeys(VENDORS, 0)
        self._loop = asyncio.new_event_loop()
        self._db: asyncpg.Connection | None = None

    def close(self) -> None:
        for client in (self.sf, self.gr, self.api):
            client.close()
        if self._db is not None:
            self._loop.run_until_complete(self._db.close())
        self._loop.close()

    def control(self, vendor: str) -> httpx.Client:
        return self.sf if vendor == "salesforce" else self.gr

    # --- Salesforce, as a person in its UI ---------------------------------------------------------

    def sf_create(self, object_type: str = "Lead", **fields: Any) -> str:
        response = self.sf.post(f"/_sim/records/{object_type}", json=fields)
        response.raise_for_status()
        record_id: str = response.json()["id"]
        return record_id

    def sf_update(self, record_id: str, object_type: str = "Lead", **fields: Any) -> None:
        self.sf.patch(f"/_sim/records/{object_type}/{record_id}", json=fields).raise_for_status()

    def sf_get(self, record_id: str, object_type: str = "Lead") -> dict[str, Any]:
        response = self.sf.get(f"/_sim/records/{object_type}/{record_id}")
        response.raise_for_status()
        record: dict[str, Any] = response.json()
        return record

    def sf_records(self, object_type: str = "Lead") -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.sf.get(f"/_sim/records/{object_type}").json()
        return records

    # --- GetResponse, as a person in its UI --------------------------------------------------------

    def gr_edit(self, contact_id: str, *, name: str | None = None, **custom: str) -> None:
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if custom:
            body["customFieldValues"] = [{"customFieldId": k, "value": [v]} for k, v in custom.items()]
        self.gr.patch(f"/_sim/contacts/{contact_id}", json=body).raise_for_status()

    def gr_get(self, contact_id: str) -> dict[str, Any]:
        contact: dict[str, Any] = self.gr.get(f"/_sim/contacts/{contact_id}").json()
        return contact

    def gr_active(self, email: str, list_id: str | None = None) -> dict[str, Any] | None:
        params = {"email": email, "campaignId": list_id or self.list_id, "state": "active"}
        found: list[dict[str, Any]] = self.gr.get("/_sim/contacts", params=params).json()
        return found[0] if found else None

    def gr_list(self, list_id: str | None = None) -> list[dict[str, Any]]:
        params = {"campaignId": list_id or self.list_id, "state": "active"}
        found: list[dict[str, Any]] = self.gr.get("/_sim/contacts", params=params).json()
        return found

    @staticmethod
    def custom(contact: dict[str, Any], field_id: str) -> str | None:
        for entry in contact.get("customFieldValues") or []:
            if entry["customFieldId"] == field_id:
                values = entry.get("values") or entry.get("value") or []
                return values[0] if values else None
        return None

    # --- the vendors' call logs --------------------------------------------------------------------

    def _fetch(self, vendor: str) -> list[dict[str, Any]]:
        known = self._calls[vendor]
        since = known[-1]["seq"] if known else 0
        # Only what is new: by the end of a run the logs hold tens of thousands of calls.
        new = self.control(vendor).get("/_sim/calls", params={"since": since}).json()
        known.extend(new)
        self._counted[vendor] += sum(1 for c in new if classify(c) in ("read", "write"))
        return known

    def mark(self) -> Mark:
        return Mark(len(self._fetch("salesforce")), len(self._fetch("getresponse")))

    def calls_since(self, mark: Mark) -> dict[str, list[dict[str, Any]]]:
        return {
            "salesforce": self._fetch("salesforce")[mark.salesforce :],
            "getresponse": self._fetch("getresponse")[mark.getresponse :],
        }

    def count_since(self, mark: Mark) -> dict[str, CallCount]:
        counts = {v: CallCount() for v in VENDORS}
        for vendor, calls in self.calls_since(mark).items():
            for call in calls:
                kind = classify(call)
                count = counts[vendor]
                if kind == "poll":
                    count.polls += 1
                elif kind == "oauth":
                    count.oauth += 1
                elif kind == "read":
                    count.reads += 1
                else:
                    count.writes += 1
                if kind in ("read", "write") and call["status"] == 429:
                    count.throttled += 1
        return counts

    def _counted_total(self) -> int:
        for vendor in VENDORS:
            self._fetch(vendor)
        return sum(self._counted.values())

    # --- the product's state -------------------------------------------------------------------------

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            if self._db is None:
                url = self.info["database_url"].replace("postgresql+asyncpg", "postgresql")
                self._db = await asyncpg.connect(url)
            return list(await self._db.fetch(query, *args))

        return self._loop.run_until_complete(run())

    def pending_links(self) -> int:
        rows = self.sql(
            "SELECT count(*) FROM contact_links WHERE state = 'pending' AND next_lookup_at IS NOT NULL"
        )
        return int(rows[0][0])

    def idle(self) -> bool:
        return bool(self.sf.get("/_sim/idle").json()["idle"] and self.gr.get("/_sim/idle").json()["idle"])

    def wait_quiet(self, *, settle: float = 1.0, within: float = 60.0) -> float:
        """Until nothing is in flight: both simulators idle, no create awaiting its id, and no vendor
        call (other than the poller's search) for `settle` seconds. Returns the seconds waited."""
        started = time.monotonic()
        deadline = started + within
        last = -1
        since = started
        while time.monotonic() < deadline:
            count = self._counted_total()
            busy = not self.idle() or self.pending_links() > 0
            now = time.monotonic()
            if busy or count != last:
                last, since = count, now
            elif now - since >= settle:
                return now - started
            time.sleep(0.05)
        raise Timeout(f"the stack did not settle within {within:.0f} s")


def until(probe: Callable[[], T | None], *, within: float, interval: float = 0.01, what: str = "") -> T:
    """Poll `probe` every `interval` seconds until it returns something truthy."""
    deadline = time.perf_counter() + within
    while True:
        found = probe()
        if found:
            return found
        if time.perf_counter() > deadline:
            raise Timeout(f"{what or 'condition'}: not met within {within:g} s")
        time.sleep(interval)
