"""One consumer process: shared resources, the role's handler, the runner, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from app.bus import Bus
from app.db.session import create_engine, session_factory
from app.settings import Settings
from consumers.roles import Role, RoleContext
from consumers.runner import ConsumerRunner


async def announce_ready(settings: Settings, ready: asyncio.Event) -> None:
    """Create the settings' ready file once the process is working (see Settings.ready_file)."""
    await ready.wait()
    if settings.ready_file:
        await asyncio.to_thread(Path(settings.ready_file).touch)


async def run_role(settings: Settings, role: Role) -> None:
    engine = create_engine(settings)
    bus = Bus(settings)
    await bus.start()
    context = RoleContext(settings=settings, engine=engine, sessions=session_factory(engine), bus=bus)
    handler = await role.build_handler(context)
    runner = ConsumerRunner(
        settings,
        topics=role.group.topics(bus.topics),
        group_id=role.group.group_id(settings),
        handler=handler.handle,
        consumer_options=role.group.options,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    announce = asyncio.create_task(announce_ready(settings, runner.started))
    try:
        await runner.run()
    finally:
        announce.cancel()
        await handler.close()
        await bus.stop()
        await engine.dispose()
