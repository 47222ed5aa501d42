"""Campaign membership, as Salesforce reports it, into changes of the people concerned.

A sync whose group is a Salesforce Campaign must hear when someone joins that Campaign: that is a
CampaignMember created (or undeleted), not a change of the Lead or Contact, so neither their
Outbound Messages nor their change events say it. When the admin sends CampaignMember change
events (CDC supports the object) or an Outbound Message on CampaignMember, each new membership
becomes a `reread` of the member's Lead or Contact, with the Campaign in `detail`: the consumer
checks the group and puts the person on the list.

Leaving a Campaign changes nothing on the list (leaving the group is not leaving the list), and a
CampaignMember DELETE event carries no fields to tell whose membership it was: such events, and
membership updates (a new Status), are dropped here and counted as ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.events import CAMPAIGN_DETAIL, ChangeEvent, Kind
from app.domain.groups import CAMPAIGN_FIELD, CAMPAIGN_MEMBER, MEMBER_FIELD

_JOINED = frozenset({Kind.CREATED, Kind.UNDELETED, Kind.CHANGED})


def as_member_rereads(events: Iterable[ChangeEvent]) -> tuple[list[ChangeEvent], int]:
    """The events with every CampaignMember event replaced by rereads of its members; and how many
    CampaignMember events said nothing a sync can use."""
    kept: list[ChangeEvent] = []
    ignored = 0
    for event in events:
        if event.object_type != CAMPAIGN_MEMBER:
            kept.append(event)
            continue
        rereads = _member_rereads(event)
        kept.extend(rereads)
        ignored += not rereads
    return kept, ignored


def _member_rereads(event: ChangeEvent) -> list[ChangeEvent]:
    campaign_id = event.fields.get(CAMPAIGN_FIELD)
    if event.kind not in _JOINED or not isinstance(campaign_id, str) or not campaign_id:
        return []
    rereads = []
    for object_type, field in MEMBER_FIELD.items():
        member_id = event.fields.get(field)
        if not isinstance(member_id, str) or not member_id:
            continue
        rereads.append(
            event.model_copy(
                update={
                    "event_id": f"{event.event_id}:{member_id}",
                    "kind": Kind.REREAD,
                    "object_type": object_type.value,
                    "record_id": member_id,
                    "email": None,
                    "fields": {},
                    "changed_fields": None,
                    "detail": {
                        **event.detail,
                        "reread": "record",
                        CAMPAIGN_DETAIL: campaign_id,
                        "campaign_member_id": event.record_id,
                    },
                }
            )
        )
    return rereads
