"""New GetResponse contacts under a burst: gathered per list and sent with `POST /contacts/batch`.

Each single create costs one call of the account's 80 a second; a batch carries up to 1000
contacts in one call, but has its own throttle (1 call a second, 80 per 10 minutes: B6, B10). So
a create goes out at once, alone, unless another create of the same list is still on its way
(queued, or sent within `BURST_WINDOW` and not seen on the list yet): then it is queued on its
link (`pending_changes["create"]`, due `GATHER` later) and the pending-create loop
(consumers/engine/pending.py) sends every queued create of the list in one batch. When the
batch throttle would make them wait longer than `MAX_BATCH_WAIT` (its 80 calls are spent), they
go out one by one instead. A single change with nothing else going on is never delayed.

The batch answers 202 and nothing about single contacts: one already on the list is skipped
(api-contracts B6 says nothing; the simulator takes that strict reading). So a batched link takes
only a contact the lookups can tell is ours (`origin` "api", created after the create was sent:
consumers/engine/pending.py), never one a `contact_added` webhook names; any other contact of
that email is read and merged as the single create's 409 would have been.
A batch refused as a whole (one invalid entry) is sent again as single creates, so only the
invalid one fails, and says why in the decision log.

Hand-written: the queue is the link rows themselves, so a queued create outlives a restart and
any replica's loop may send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app import metrics
from app.clients.errors import Conflict, Permanent, RateLimited, Transient
from app.clients.getresponse import GetResponseClient
from app.db import decisions, links
from app.db.models import ContactLink
from app.db.syncs import SyncConfig
from app.domain.states import LinkState, NoteRule
from app.logs import get_logger

log = get_logger(__name__)

CREATE_KEY = "create"
UNVERIFIED_KEY = "unverified"
# Another create of the list sent within this long and not seen yet makes the next one a burst.
BURST_WINDOW = timedelta(seconds=2)
# How long a queued create waits for others to join it.
GATHER = timedelta(milliseconds=300)
# Queued creates go out one by one rather than wait longer than this for the batch throttle.
MAX_BATCH_WAIT = 1.5

async def in_burst(session: Any, sync: SyncConfig, link: ContactLink) -> bool:
    """Whether a create for this list should be queued: another create of the list is still on
    its way (queued, or sent within BURST_WINDOW and not seen on the list yet)."""
    since = datetime.now(UTC) - BURST_WINDOW
    return await links.create_on_its_way(session, sync.id, since=since, other_than=link.id)


def queued_body(link: ContactLink) -> dict[str, Any] | None:
    body = link.pending_changes.get(CREATE_KEY)
    return dict(body) if isinstance(body, Mapping) else None


def queue(link: ContactLink, body: Mapping[str, Any]) -> None:
    """Keep the create (without its list) on the link, to be sent with the list's others."""
    link.pending_changes = {**link.pending_changes, CREATE_KEY: dict(body)}


def sent(link: ContactLink, *, unverified: bool = False) -> None:
    """The create went out; `unverified` when a contact of that email may already be on the list
    (a batch skips one without a word; a 409): then only the lookups can tell ours from it."""
    kept = {k: v for k, v in link.pending_changes.items() if k not in (CREATE_KEY, UNVERIFIED_KEY)}
    link.pending_changes = {**kept, UNVERIFIED_KEY: True} if unverified else kept


def unverified(link: ContactLink) -> bool:
    """Whether a contact found for this link may be another than the one our create made."""
    return bool(link.pending_changes.get(UNVERIFIED_KEY))


async def send_queued(
    session: Any, gr: GetResponseClient, sync: SyncConfig, queued: list[ContactLink]
) -> list[ContactLink]:
    """Send the queued creates of one list; returns the links whose create went out (the others
    wait: for the batch throttle's next slot, or because the account is throttled or unreachable;
    or they were given up on with a decision note)."""
    bodies = [(link, body) for link in queued if (body := queued_body(link)) is not None]
    if not bodies:
        return []
    wait = gr.limiter.batch_wait
    if len(bodies) > 1 and 0 < wait <= MAX_BATCH_WAIT:
        # The batch throttle's next slot is near: wait for it outside this transaction, which
        # holds the links' locks (the consumers' events for these people would wait too).
        for link, _ in bodies:
            link.next_lookup_at = datetime.now(UTC) + timedelta(seconds=wait)
        return []
    if len(bodies) > 1 and wait <= MAX_BATCH_WAIT and not await gr.limiter.claim_batch():
        # Another process of the account sends its batch this second: ours goes next.
        for link, _ in bodies:
            link.next_lookup_at = datetime.now(UTC) + GATHER
        return []
    if len(bodies) > 1 and wait <= MAX_BATCH_WAIT:
        try:
            await gr.create_contacts_batch(sync.campaign_id, [_batch_entry(body) for _, body in bodies])
            metrics.wrote("getresponse", "create_batch")
            for link, _ in bodies:
                sent(link, unverified=True)
            return [link for link, _ in bodies]
        except (Transient, RateLimited) as exc:
            log.warning("batch create got no answer; sending the creates one by one", error=str(exc))
        except Permanent as exc:
            log.warning("batch create refused; sending the creates one by one", error=str(exc))
    done: list[ContactLink] = []
    for link, body in bodies:
        try:
            await gr.create_contact({**body, "campaign": {"campaignId": sync.campaign_id}})
            metrics.wrote("getresponse", "create")
        except Conflict:
            # Already on the list: the exact-email lookup finds it and merges it (pending.py).
            sent(link, unverified=True)
            done.append(link)
            continue
        except (Transient, RateLimited) as exc:
            log.warning("queued create got no answer; trying again", link_id=link.id, error=str(exc))
            continue
        except Permanent as exc:
            sent(link)
            link.state = LinkState.DELETED
            link.next_lookup_at = None
            decisions.log_note(
                session,
                link,
                field="*",
                rule=NoteRule.CREATE_REJECTED,
                reason=f"GetResponse refused the create on list {sync.campaign_id}: {exc}",
                event_id=None,
            )
            continue
        sent(link)
        done.append(link)
    return done


def _batch_entry(body: Mapping[str, Any]) -> dict[str, Any]:
    """A create body as an entry of `contacts` in a batch: tags are `{"ids": [...]}` there (B6)."""
    entry = {k: v for k, v in body.items() if k not in ("campaign", "tags")}
    tags = body.get("tags")
    if isinstance(tags, list) and tags:
        entry["tags"] = {"ids": [t["tagId"] for t in tags if isinstance(t, Mapping) and "tagId" in t]}
    return entry
