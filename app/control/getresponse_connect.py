"""Connecting a GetResponse account (api-contracts B5): an API key or an OAuth token, on the
standard API or on GetResponse MAX (its own API host, and `X-Domain` on every call).

The credential is tried with one listing of the lists before anything is stored, so a refused
key is a 400 that says so, not a sync that fails later.

The account id (what webhooks name in `account.accountId`, and what they are checked against)
comes from, in this order: the request's `account_id`; `GET /accounts`; else it is derived from
the account's default list (`list-<campaignId>`), which stays the same when the key changes. A
derived id does not match the webhooks' account: the answer warns, and says to connect again with
`account_id`.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.errors import NotFound as VendorNotFound
from app.clients.errors import VendorError
from app.clients.getresponse import MAX_BASE_URL, STANDARD_BASE_URL, GetResponseClient
from app.clients.vendor_hosts import VendorHosts
from app.control.connections import (
    CONNECTION_EXAMPLE,
    VENDOR_TIMEOUT_S,
    ConnectionRead,
    GetResponseInbound,
    getresponse_inbound,
    refuse_foreign_url,
    store,
    vendor_refusal,
)
from app.control.errors import BadRequest
from app.crypto import SecretBox

AccountIdSource = Literal["given", "api", "derived"]


class GetResponseConnect(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"api_key": "jfgs8jh4k5jk3h4g5jk3h4g5"},
                {
                    "api_key": "jfgs8jh4k5jk3h4g5jk3h4g5",
                    "api_base_url": "https://api3.getresponse360.com/v3",
                    "domain": "example.com",
                    "account_id": "AbC12",
                },
            ]
        }
    }

    api_key: SecretStr | None = Field(None, description="sent as X-Auth-Token: api-key <KEY>")
    oauth_token: SecretStr | None = Field(None, description="sent as Authorization: Bearer <token>")
    api_base_url: str | None = Field(
        None,
        description=(
            f"default {STANDARD_BASE_URL}; {MAX_BASE_URL} when `domain` is given (GetResponse MAX); "
            "https to GetResponse's API hosts only"
        ),
    )
    domain: str | None = Field(None, description="GetResponse MAX: the account's domain, sent as X-Domain")
    account_id: str | None = Field(
        None, max_length=64, description="the account id webhooks carry (account.accountId); see above"
    )

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if (self.api_key is None) == (self.oauth_token is None):
            raise ValueError("give exactly one of api_key and oauth_token")
        return self

    @property
    def base_url(self) -> str:
        return (self.api_base_url or (MAX_BASE_URL if self.domain else STANDARD_BASE_URL)).rstrip("/")


class GetResponseConnected(BaseModel):
    """The connection, and (once, here only) the webhook URL with its secret."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "connection": CONNECTION_EXAMPLE
                    | {
                        "kind": "getresponse",
                        "external_id": "AbC12",
                        "api_base_url": STANDARD_BASE_URL,
                        "auth_kind": "api_key",
                        "settings": {"account_id_source": "api"},
                    },
                    "inbound": {"webhook_url": "https://sfgr.example.com/v1/getresponse/webhooks?secret=Kp3..."},
                    "lists": 4,
                    "account_id_source": "api",
                    "warnings": [],
                    "next_steps": ["In GetResponse, Webhooks > Create webhook: ..."],
                }
            ]
        }
    }

    connection: ConnectionRead
    inbound: GetResponseInbound
    lists: int = Field(description="lists (campaigns) the credential can see")
    account_id_source: AccountIdSource
    warnings: list[str]
    next_steps: list[str]


async def connect_getresponse(
    session: AsyncSession, box: SecretBox, body: GetResponseConnect, *, public_base: str, hosts: VendorHosts
) -> GetResponseConnected:
    refuse_foreign_url(hosts, "getresponse", "api_base_url", body.base_url)
    api_key = body.api_key.get_secret_value() if body.api_key else None
    oauth_token = body.oauth_token.get_secret_value() if body.oauth_token else None
    what = "the API key" if api_key else "the OAuth token"
    async with GetResponseClient(
        api_key=api_key, oauth_token=oauth_token, base_url=body.base_url, domain=body.domain,
        timeout_s=VENDOR_TIMEOUT_S,
    ) as client:
        try:
            lists = await client.campaigns()
        except VendorNotFound as exc:
            raise BadRequest(
                f"{body.base_url} answered 404 to GET /campaigns: is it a GetResponse API v3 base URL?"
            ) from exc
        except VendorError as exc:
            raise vendor_refusal(f"GetResponse refused {what}", exc) from exc
        account_id, source = await _account_id(client, body.account_id, lists)
    warnings = []
    if source == "derived":
        warnings.append(
            f"GET /accounts gave no account id, so it was derived ({account_id}); GetResponse webhooks "
            "name the real account (account.accountId) and are refused until it matches: connect again "
            "with \"account_id\" set to it"
        )
    credentials = {"api_key": api_key} if api_key else {"oauth_token": oauth_token}
    settings: dict[str, str] = {"account_id_source": source}
    if body.domain:
        settings["max_domain"] = client.domain or body.domain
    row, inbound = await store(
        session,
        box,
        kind="getresponse",
        external_id=account_id,
        api_base_url=body.base_url,
        auth_kind="api_key" if api_key else "oauth",
        credentials=credentials,
        settings=settings,
    )
    shown = getresponse_inbound(public_base, inbound)
    return GetResponseConnected(
        connection=ConnectionRead.model_validate(row),
        inbound=shown,
        lists=len(lists),
        account_id_source=source,
        warnings=warnings,
        next_steps=[
            "In GetResponse, Webhooks > Create webhook: pick the contact events (subscribed, unsubscribed, "
            f"removed, custom field changed, email changed) and give the URL {shown.webhook_url}",
            "The secret is shown only in this answer; connecting the same account again keeps it.",
        ],
    )


async def _account_id(
    client: GetResponseClient, given: str | None, lists: list[dict[str, object]]
) -> tuple[str, AccountIdSource]:
    if given:
        return given, "given"
    try:
        # The client has no account() call yet; GET /accounts is one plain read through its limiter.
        reply = await client._call("GET", "accounts")
    except VendorError:
        reply = None
    found = reply.body.get("accountId") if reply is not None and isinstance(reply.body, dict) else None
    if isinstance(found, str) and found:
        return found, "api"
    defaults = [c for c in lists if str(c.get("isDefault")).lower() == "true"]
    default = (defaults or lists)[0] if lists else {}
    if not isinstance(default.get("campaignId"), str):
        raise BadRequest(
            "the account id could not be read (GET /accounts) nor derived (the account has no list): "
            "give \"account_id\""
        )
    return f"list-{default['campaignId']}", "derived"
