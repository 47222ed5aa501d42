"""Vendor accounts' shared call budgets (`rate_budgets`) and the slices processes lease of them
(`rate_budget_leases`); the coordination itself is app/clients/shared_limits.py.

Every change of an account's leases happens in a transaction that first takes the lock of the
account's row (`lock_budget`), so two processes never grow their slices from the same picture of
what is free. Times are the database's (`now()`), never a process's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db.models import RateBudget, RateLease


@dataclass(frozen=True)
class Lease:
    holder: uuid.UUID
    per_second: int
    concurrency: int
    per_second_wants: tuple[int, ...]
    concurrency_wants: tuple[int, ...]


@dataclass(frozen=True)
class BudgetState:
    """An account's budget as the lock holder sees it: the seconds its pauses still run, and
    every lease not yet expired."""

    paused_s: float
    batch_paused_s: float
    leases: list[Lease]


LOCK_WAIT = "2s"
IDLE_IN_LOCK = "10s"


def _seconds_left(column: InstrumentedAttribute[datetime | None]) -> ColumnElement[float]:
    left: ColumnElement[float] = func.greatest(
        0.0, func.coalesce(func.extract("epoch", column - func.now()), 0.0)
    )
    return left


async def lock_budget(session: AsyncSession, account: str) -> BudgetState:
    """Locks the account's budget (made on first use) until the transaction ends, forgets the
    leases that expired, and reads the rest.

    The transaction holds the lock only for a few statements, so it is bounded: waiting for the
    lock gives up after LOCK_WAIT (the renewal fails and is tried again), and a holder that stops
    mid-transaction (a frozen or killed process whose connection stays open) loses its session
    after IDLE_IN_LOCK, instead of keeping every process on the account from renewing.
    """
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_IN_LOCK}'"))
    await session.execute(insert(RateBudget).values(account=account).on_conflict_do_nothing())
    paused = (
        await session.execute(
            select(_seconds_left(RateBudget.paused_until), _seconds_left(RateBudget.batch_paused_until))
            .where(RateBudget.account == account)
            .with_for_update()
        )
    ).one()
    await session.execute(
        delete(RateLease).where(RateLease.account == account, RateLease.expires_at <= func.now())
    )
    rows = await session.scalars(select(RateLease).where(RateLease.account == account))
    leases = [
        Lease(
            holder=row.holder,
            per_second=row.per_second,
            concurrency=row.concurrency,
            per_second_wants=tuple(row.per_second_wants),
            concurrency_wants=tuple(row.concurrency_wants),
        )
        for row in rows
    ]
    return BudgetState(float(paused[0]), float(paused[1]), leases)


async def put_lease(
    session: AsyncSession,
    account: str,
    lease: Lease,
    *,
    process: str,
    ttl_s: float,
) -> None:
    """Stores the holder's lease, good for `ttl_s` seconds from now; call under `lock_budget`."""
    values = {
        "per_second": lease.per_second,
        "concurrency": lease.concurrency,
        "per_second_wants": list(lease.per_second_wants),
        "concurrency_wants": list(lease.concurrency_wants),
        "expires_at": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, ttl_s),
        "process": process,
    }
    await session.execute(
        insert(RateLease)
        .values(account=account, holder=lease.holder, **values)
        .on_conflict_do_update(index_elements=[RateLease.account, RateLease.holder], set_=values)
    )


async def share_pause(session: AsyncSession, account: str, seconds: float, *, batch: bool) -> None:
    """Every process of the account starts no call (no batch call, with `batch`) for `seconds`
    from now, or longer if another pause already says so. Waits for the row's lock LOCK_WAIT at
    most, as `lock_budget` does: a budget that stops waits for its pauses to be shared."""
    column = RateBudget.batch_paused_until if batch else RateBudget.paused_until
    until = func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    await session.execute(insert(RateBudget).values(account=account).on_conflict_do_nothing())
    await session.execute(
        update(RateBudget)
        .where(RateBudget.account == account)
        .values({column: func.greatest(func.coalesce(column, until), until)})
    )


async def claim_batch_slot(session: AsyncSession, account: str, seconds: float) -> bool:
    """Whether this process may start a batch call now: true for one process at a time, and then
    no batch call of any process starts for `seconds` (the batch throttle is per account: B10)."""
    until = func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    await session.execute(insert(RateBudget).values(account=account).on_conflict_do_nothing())
    claimed = await session.execute(
        update(RateBudget)
        .where(
            RateBudget.account == account,
            func.coalesce(RateBudget.batch_paused_until, func.now()) <= func.now(),
        )
        .values(batch_paused_until=until)
        .returning(RateBudget.account)
    )
    return claimed.first() is not None
