"""How a page is rendered: the templates of `templates/`, with the signed-in caller, the CSRF
token for its forms and the navigation in every page's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.deps import UiCaller
from app.ui.session import CSRF_FIELD

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# Pages are never cached (they show secrets once, and per-token buttons), never framed, and load
# nothing but the api's own script and stylesheet.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

NAVIGATION = (
    ("integrations", "/ui/integrations", "Integrations"),
    ("syncs", "/ui/syncs", "Syncs"),
    ("new", "/ui/syncs/new", "New sync"),
    ("lookup", "/ui/lookup", "Why is this value what it is"),
)


def render(
    request: Request,
    template: str,
    viewer: UiCaller | None,
    *,
    status_code: int = 200,
    section: str | None = None,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": viewer.session.csrf if viewer is not None else context.pop("csrf", ""),
            "csrf_field": CSRF_FIELD,
            "navigation": NAVIGATION,
            "section": section,
            **context,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )
