"""The request body, read only once the sender is authenticated and its media type is one we
parse, never past the size limit, and within a deadline: a sender that trickles its body would
otherwise hold a worker's connection for as long as it likes."""

from __future__ import annotations

import asyncio

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


async def read_body(
    request: Request, *, accepted: frozenset[str], max_bytes: int, within: float
) -> bytes:
    """The raw body; 415 for another media type, 413 as soon as more than `max_bytes` arrive, 408
    when it has not all arrived `within` seconds.

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
    try:
        async with asyncio.timeout(within):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError as exc:
        raise InboundRejected(
            408, "body_timeout", f"the body did not arrive within {within:g} s (SFGR_BODY_READ_TIMEOUT_S)"
        ) from exc
    return b"".join(chunks)
