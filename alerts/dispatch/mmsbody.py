"""MMS bodies as stored in the content table (JSON of parts) and read back by workers.

Kept apart from rendering so a worker process never imports the map renderer.
"""

from __future__ import annotations

import base64
import json

from renderers.mms import MmsContent, MmsPart


def pack(content: MmsContent) -> bytes:
    """Serialise an MMS body for the content table."""
    return json.dumps(
        [
            {
                "t": p.content_type,
                "c": p.content_id,
                "l": p.location,
                "d": base64.b64encode(p.data).decode(),
            }
            for p in content.parts
        ]
    ).encode()


def unpack(data: bytes) -> MmsContent:
    """Read back an MMS body stored by ``pack``."""
    return MmsContent(
        tuple(MmsPart(p["t"], p["c"], base64.b64decode(p["d"]), p["l"]) for p in json.loads(data))
    )
