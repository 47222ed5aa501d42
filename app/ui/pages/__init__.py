"""The admin UI's routers, and how the application answers a page it cannot show (sign in first,
or refused) as a page rather than as JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api.deps import SignInRequired, UiRefused
from app.ui.pages import account, first_sync, integrations, lookup, syncs, wizard
from app.ui.templating import STATIC_DIR, render


def install(app: FastAPI) -> None:
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    # The wizard's paths (/ui/syncs/new, /ui/syncs/{id}/first-sync) before the syncs' /ui/syncs/{id}/...
    for module in (account, integrations, wizard, first_sync, syncs, lookup):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/ui/sign-in?reason={exc.reason}", status_code=303)
        return render(request, "refused.html", None, status_code=401, error=str(exc))

    @app.exception_handler(UiRefused)
    async def refused(request: Request, exc: UiRefused) -> Response:
        return render(request, "refused.html", None, status_code=exc.status, error=exc.message)
