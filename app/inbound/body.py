"""The request body, read only when its media type is one we parse, and never past the size limit."""

from __future__ import annotations

from starlette.requests import Request

from app.inbound.errors import InboundRejected

SOAP_MEDIA_TYPES = frozenset({"text/xml", "application/soap+xml"})
JSON_MEDIA_TYPES = frozenset({"application/json"})


def media_type(content_type: str | None) -> str:
    """`text/xml; charset=utf-8` -> `text/xml` (parameters such as charset are allowed)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_media_type(content_type: str | None, accepted: frozenset[str]) -> None:
    if media_type(content_type) not in accepted:
        expected = " or ".join(sorted(accepted))
        given = f"{content_type!r}" if content_type else "none"
        raise InboundRejected(415, "content_type", f"Content-Type must be {expected}; got {given}")


async def read_body(request: Request, *, accepted: frozenset[str], max_bytes: int) -> bytes:
    """The raw body; 415 for another media type, 413 as soon as more than `max_bytes` arrive.

    The declared Content-Length is checked first, and the stream is counted chunk by chunk as
    well, because a chunked body declares no length.
    """
    check_media_type(request.headers.get("content-type"), accepted)
    too_large = InboundRejected(413, "too_large", f"the body is larger than the limit of {max_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InboundRejected(400, "bad_length", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
