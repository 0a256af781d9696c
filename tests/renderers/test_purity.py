"""renderers/ is a pure library: no service, web framework, ORM or HTTP client, no pyplot."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("alerts", "fastapi", "sqlmodel", "httpx", "matplotlib.pyplot", "starlette")


def test_renderers_import_nothing_from_the_service():
    code = (
        "import sys, renderers.maps, renderers.text, renderers.mms, renderers.images;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} or m in {FORBIDDEN!r}];"
        "print(','.join(sorted(bad)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
