"""How the simulated API shows its resources (api-contracts B6, B7, B8, B9).

Quirks kept on purpose: booleans such as `isDefault` and `hidden` are the strings "true"/"false";
`dayOfCycle` is a string or null; custom-field values appear twice, as `value` and `values`; list
elements of contacts (ContactListElement) carry no `tags` and no `customFieldValues`; timestamps
are `2017-12-19T13:11:48+0000`; the webhook's contact block is a short form of its own.
"""

from __future__ import annotations

from typing import Any

from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.formats import api_time
from simulators.getresponse.store import Campaign, Contact, CustomField, Store, Tag


def flag(value: bool) -> str:
    return "true" if value else "false"


def campaign_element(campaign: Campaign, cfg: GetResponseSimConfig) -> dict[str, Any]:
    return {
        "campaignId": campaign.campaign_id,
        "href": cfg.href(f"campaigns/{campaign.campaign_id}"),
        "name": campaign.name,
        "techName": campaign.tech_name,
        "languageCode": campaign.language_code,
        "isDefault": flag(campaign.is_default),
        "createdOn": api_time(campaign.created_on),
        "description": campaign.name,
    }


def campaign_details(campaign: Campaign, cfg: GetResponseSimConfig) -> dict[str, Any]:
    return {
        **campaign_element(campaign, cfg),
        "postal": {
            "addPostalToMessages": "false",
            "city": "",
            "companyName": "",
            "design": "",
            "country": "",
            "state": "",
            "street": "",
            "zipCode": "",
        },
        "confirmation": {
            "fromField": {"fromFieldId": "", "href": ""},
            "replyTo": {"fromFieldId": "", "href": ""},
            "redirectType": "hosted",
            "mimeType": "text/html",
            "redirectUrl": None,
            "subscriptionConfirmationBodyId": "",
            "subscriptionConfirmationSubjectId": "",
        },
        "optinTypes": dict(campaign.optin_types),
        "subscriptionNotifications": {"status": "disabled", "recipients": []},
        "profile": {
            "description": campaign.name,
            "industryTagId": None,
            "logo": "",
            "logoLinkUrl": "",
            "title": campaign.name,
        },
    }


def campaign_ref(campaign_id: str, store: Store, cfg: GetResponseSimConfig) -> dict[str, Any]:
    campaign = store.campaigns.get(campaign_id)
    return {
        "campaignId": campaign_id,
        "name": campaign.name if campaign else None,
        "href": cfg.href(f"campaigns/{campaign_id}"),
    }


def custom_field(definition: CustomField, cfg: GetResponseSimConfig) -> dict[str, Any]:
    return {
        "customFieldId": definition.field_id,
        "href": cfg.href(f"custom-fields/{definition.field_id}"),
        "name": definition.name,
        "type": definition.type,
        "valueType": definition.type,
        "format": definition.format,
        "fieldType": definition.format,
        "hidden": flag(definition.hidden),
        "values": list(definition.values),
    }


def tag(item: Tag, cfg: GetResponseSimConfig) -> dict[str, Any]:
    return {
        "tagId": item.tag_id,
        "name": item.name,
        "href": cfg.href(f"tags/{item.tag_id}"),
        "color": item.color,
    }


def _scoring(value: float | None) -> float | int | None:
    if value is not None and float(value).is_integer():
        return int(value)
    return value


def contact_element(contact: Contact, store: Store, cfg: GetResponseSimConfig) -> dict[str, Any]:
    """ContactListElement: the contact core plus note and ipAddress."""
    return {
        "contactId": contact.contact_id,
        "href": cfg.href(f"contacts/{contact.contact_id}"),
        "name": contact.name,
        "email": contact.email,
        "note": contact.note,
        "origin": contact.origin,
        "dayOfCycle": contact.day_of_cycle,
        "changedOn": api_time(contact.changed_on),
        "timeZone": "UTC",
        "ipAddress": contact.ip_address,
        "activities": cfg.href(f"contacts/{contact.contact_id}/activities"),
        "campaign": campaign_ref(contact.campaign_id, store, cfg),
        "createdOn": api_time(contact.created_on),
        "scoring": _scoring(contact.scoring),
        "engagementScore": None,
    }


def contact_field_values(contact: Contact, store: Store) -> list[dict[str, Any]]:
    result = []
    for field_id, values in contact.custom.items():
        definition = store.fields.get(field_id)
        if definition is None:
            continue
        result.append(
            {
                "customFieldId": field_id,
                "name": definition.name,
                "value": list(values),
                "values": list(values),
                "type": definition.type,
                "fieldType": definition.format,
                "valueType": definition.type,
            }
        )
    return result


def contact_details(contact: Contact, store: Store, cfg: GetResponseSimConfig) -> dict[str, Any]:
    return {
        **contact_element(contact, store, cfg),
        "geolocation": {
            "latitude": None,
            "longitude": None,
            "continentCode": None,
            "countryCode": None,
            "region": None,
            "postalCode": None,
            "dmaCode": None,
            "city": None,
        },
        "tags": [tag(store.tags[t], cfg) for t in contact.tags if t in store.tags],
        "customFieldValues": contact_field_values(contact, store),
    }


def webhook_contact(contact: Contact, store: Store, cfg: GetResponseSimConfig) -> dict[str, Any]:
    """The `contact` block of a webhook payload (api-contracts B9)."""
    return {
        "contactId": contact.contact_id,
        "email": contact.email,
        "name": contact.name,
        "campaign": campaign_ref(contact.campaign_id, store, cfg),
        "href": cfg.href(f"contacts/{contact.contact_id}"),
    }
