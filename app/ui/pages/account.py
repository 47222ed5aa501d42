"""Signing in to the admin UI with an API token, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import SIGN_IN_REASONS, ResourcesDep, SignerDep, UiRefused, UiSessionDep, UiViewer
from app.control import tokens
from app.settings import Settings
from app.ui.session import COOKIE, SessionSigner, UiSession, csrf_matches, new_session
from app.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)


def _with_session(
    response: Response, request: Request, signer: SessionSigner, settings: Settings, session: UiSession | None
) -> Response:
    """Sets the session cookie (or, with None, removes it): HttpOnly, SameSite=Strict, Secure
    whenever the UI is reached over HTTPS, for the session's lifetime."""
    secure = request.url.scheme == "https" or (settings.public_base_url or "").startswith("https://")
    if session is None:
        response.delete_cookie(COOKIE, path="/ui", secure=secure, httponly=True, samesite="strict")
    else:
        response.set_cookie(
            COOKIE,
            signer.dumps(session),
            max_age=signer.max_age_s,
            path="/ui",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
    return response


@router.get("", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/integrations", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(
    request: Request,
    resources: ResourcesDep,
    signer: SignerDep,
    session: UiSessionDep,
    reason: str | None = None,
) -> Response:
    anonymous = session if session is not None and session.token_id is None else new_session()
    page = render(
        request, "sign_in.html", None, csrf=anonymous.csrf, message=SIGN_IN_REASONS.get(reason or "")
    )
    return _with_session(page, request, signer, resources.settings, anonymous)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    resources: ResourcesDep,
    signer: SignerDep,
    session: UiSessionDep,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if session is None or not csrf_matches(session, csrf):
        raise UiRefused(
            403, "The sign-in form expired or was not sent by this page: open it again and sign in."
        )
    async with resources.sessions() as db:
        found = await tokens.authenticate(db, token.strip()) if token.strip() else None
    if found is None or found.revoked_at is not None:
        problem = (
            "Enter an API token (create one with `sfgr tokens create --scope read`)."
            if not token.strip()
            else "That token is not known, or it was revoked. Check it and try again."
        )
        page = render(request, "sign_in.html", None, status_code=401, csrf=session.csrf, error=problem)
        return page
    signed_in = new_session(str(found.id))
    response = RedirectResponse("/ui/integrations", status_code=303)
    return _with_session(response, request, signer, resources.settings, signed_in)


@router.post("/sign-out")
async def sign_out(
    request: Request, resources: ResourcesDep, signer: SignerDep, viewer: UiViewer
) -> Response:
    form = await request.form()
    presented = form.get("csrf")
    if not csrf_matches(viewer.session, presented if isinstance(presented, str) else None):
        raise UiRefused(
            403, "The form's security token is missing or out of date: reload the page and try again."
        )
    response = RedirectResponse("/ui/sign-in?reason=signed-out", status_code=303)
    return _with_session(response, request, signer, resources.settings, None)
