"""Why is this value what it is: a person found by email, and their decision log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep, UiViewer
from app.control import decisions
from app.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/lookup", response_class=HTMLResponse)
async def lookup(request: Request, viewer: UiViewer, session: SessionDep, email: str = "") -> HTMLResponse:
    found = []
    if email.strip():
        for link in await decisions.find_links(session, email=email.strip(), limit=10):
            found.append(await decisions.link_decisions(session, link.id, limit=100))
    return render(request, "lookup.html", viewer, section="lookup", email=email.strip(), found=found)
