"""JSON request bodies, decoded with every decoding failure turned into a 400."""

from __future__ import annotations

import json
from typing import Any

from app.inbound.errors import InboundRejected


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        # A few megabytes of `[[[[` nest deeper than the decoder's stack allows.
        raise InboundRejected(400, "bad_json", "the JSON body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise InboundRejected(400, "bad_json", f"the body is not valid JSON: {exc}") from None
