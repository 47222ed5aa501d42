"""One simulated GetResponse account: its config, data, limits, faults, deliveries and call log.

Routes receive it through `StateDep`. The config object is replaced on `POST /_sim/config`; every
component reads it through `lambda: state.config`, so a change applies to the next call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from simulators.common.calls import CallLog
from simulators.common.deliveries import Deliverer
from simulators.common.faults import Faults
from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.contact_service import ContactService
from simulators.getresponse.limits import RateLimiter
from simulators.getresponse.store import Store
from simulators.getresponse.webhooks import WebhookSender


class SimState:
    def __init__(self, config: GetResponseSimConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.calls = CallLog()
        self.store = Store()
        self.limiter = RateLimiter(lambda: self.config)
        self.deliverer = Deliverer(lambda: self.faults)
        self.webhooks = WebhookSender(lambda: self.config, self.deliverer)
        self.contacts = ContactService(self.store, lambda: self.config, self.webhooks)

    async def start(self) -> None:
        await self.deliverer.start()

    async def stop(self) -> None:
        self.contacts.clear()
        self.webhooks.clear()
        await self.deliverer.stop()

    def reset(self) -> None:
        """Everything but the config back to the start: seed lists and fields, no contacts."""
        self.contacts.clear()
        self.webhooks.clear()
        self.deliverer.clear()
        self.store.reset()
        self.calls.clear()
        self.faults = Faults()
        self.limiter.reset()

    @property
    def idle(self) -> bool:
        return self.contacts.idle and self.webhooks.idle


def get_state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


StateDep = Annotated[SimState, Depends(get_state)]
