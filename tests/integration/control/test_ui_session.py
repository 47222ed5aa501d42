"""The admin UI's session in-process: the cookie's attributes, HTTPS making it Secure, a revoked
token signing its sessions out, and forms refused without their CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.control import tokens
from app.db.session import create_engine, session_factory
from tests.integration.control.harness import Api


@asynccontextmanager
async def signed_in(api: Api, base_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.Response]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url=base_url) as client:
        page = await client.get("/ui/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        answer = await client.post("/ui/sign-in", data={"token": api.admin_token, "csrf": csrf.group(1)})
        yield client, answer


async def test_the_session_cookie_is_httponly_strict_short_and_secure_over_https(api: Api) -> None:
    async with signed_in(api, "https://sfgr.test") as (client, answer):
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/integrations"
        cookie = answer.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "secure", "path=/ui", "max-age=3600"):
            assert attribute in cookie
        assert (await client.get("/ui/integrations")).status_code == 200


async def test_over_plain_http_the_cookie_is_not_marked_secure(api: Api) -> None:
    async with signed_in(api, "http://sfgr.test") as (_, answer):
        assert "secure" not in answer.headers["set-cookie"].lower()


async def test_revoking_the_token_signs_its_sessions_out(api: Api) -> None:
    async with signed_in(api, "http://sfgr.test") as (client, _):
        engine = create_engine(api.settings)
        try:
            async with session_factory(engine)() as session:
                found = await tokens.authenticate(session, api.admin_token)
                assert found is not None
                await tokens.revoke_token(session, found.id)
        finally:
            await engine.dispose()
        page = await client.get("/ui/syncs")
        assert page.status_code == 303
        assert page.headers["location"] == "/ui/sign-in?reason=revoked"


async def test_a_wrong_token_is_refused_in_words(api: Api) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://sfgr.test") as client:
        page = await client.get("/ui/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        answer = await client.post("/ui/sign-in", data={"token": "sfgr_wrong", "csrf": csrf.group(1)})
        assert answer.status_code == 401
        assert "That token is not known, or it was revoked." in answer.text
        forged = await client.post("/ui/sign-in", data={"token": api.admin_token})
        assert forged.status_code == 403
