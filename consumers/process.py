"""One consumer process: shared resources, the role's handler, the runner, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from app.bus import Bus
from app.db.session import create_engine, session_factory
from app.observability import Health, observed
from app.settings import Settings
from consumers.retrier import Retrier
from consumers.roles import Role, RoleContext
from consumers.runner import ConsumerRunner


async def announce_ready(settings: Settings, ready: asyncio.Event) -> None:
    """Create the settings' ready file once the process is working (see Settings.ready_file)."""
    await ready.wait()
    if settings.ready_file:
        await asyncio.to_thread(Path(settings.ready_file).touch)


async def run_role(settings: Settings, role: Role) -> None:
    """The role's live consumer and, for a change role, its retrier (consumers/retrier.py): two
    consumer groups in one process, so that waiting retries never hold back live work. Both
    loops beat the process's `/healthz` (app/observability.py)."""
    async with observed(settings, f"consumer-{role.group.role.value}") as health:
        await _run_role(settings, role, health)


async def _run_role(settings: Settings, role: Role, health: Health) -> None:
    engine = create_engine(settings)
    bus = Bus(settings)
    await bus.start()
    context = RoleContext(settings=settings, engine=engine, sessions=session_factory(engine), bus=bus)
    runtime = await role.build_handler(context)
    runner = ConsumerRunner(
        settings,
        topics=role.group.topics(bus.topics),
        group_id=role.group.group_id(settings),
        handler=runtime.handle,
        consumer_options=role.group.options,
        heartbeat=health.heartbeat("consumer"),
    )
    retrier = (
        Retrier(
            settings,
            topic=role.group.retry_topic(bus.topics),
            group_id=role.group.retry_group_id(settings),
            handler=runtime.retry,
            heartbeat=health.heartbeat("retrier"),
        )
        if role.group.retry_topic is not None and runtime.retry is not None
        else None
    )

    def stop() -> None:
        runner.stop()
        if retrier is not None:
            retrier.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    ready = asyncio.Event()

    async def both_started() -> None:
        await runner.started.wait()
        if retrier is not None:
            await retrier.started.wait()
        ready.set()

    waiting = asyncio.create_task(both_started())
    announce = asyncio.create_task(announce_ready(settings, ready))
    try:
        await _until_one_ends(runner.run(), retrier.run() if retrier is not None else None, stop)
    finally:
        waiting.cancel()
        announce.cancel()
        await runtime.close()
        await bus.stop()
        await engine.dispose()


async def _until_one_ends(
    live: Coroutine[Any, Any, None], retries: Coroutine[Any, Any, None] | None, stop: Callable[[], None]
) -> None:
    """Run both loops; when one ends (stopped, or failed), stop the other and wait for it, then
    raise the first failure."""
    tasks = [asyncio.create_task(live)] + ([asyncio.create_task(retries)] if retries is not None else [])
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
