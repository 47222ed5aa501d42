"""Faults of the Pub/Sub API server, set through `POST /_sim/pubsub/faults` (api-contracts A5
error table): every open stream dropped (UNAVAILABLE), the daily delivery allocation spent
(RESOURCE_EXHAUSTED), too many clients (RESOURCE_EXHAUSTED for new streams). Expired sessions
come from `POST /_sim/sessions/expire`, as for REST."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PubSubFaults:
    allocation_exhausted: bool = False
    too_many_clients: bool = False  # concurrent.client.limit.exceeded for every new stream
    drops: int = 0  # each drop ends every stream open at that moment

    def clear(self) -> None:
        self.allocation_exhausted = False
        self.too_many_clients = False
        self.drops = 0
