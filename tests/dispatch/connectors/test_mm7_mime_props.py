"""Property tests: whatever MMS we build, the lenient reader gives back the same parts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.dispatch.connectors.mm7_mime import (
    build_content_part,
    build_related,
    flatten,
    parse_content_type,
    split_mm7_http,
)
from renderers.mms import MmsContent, MmsPart

_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=12)
_media = st.sampled_from(["image/png", "image/jpeg", "image/gif", "audio/amr"])


@st.composite
def contents(draw) -> MmsContent:
    ids = draw(st.lists(_ids, min_size=2, max_size=5, unique=True))
    smil = MmsPart("application/smil", ids[0], b"<smil><body/></smil>")
    media = [
        MmsPart(draw(_media), cid, draw(st.binary(max_size=400)), draw(st.none() | _ids))
        for cid in ids[1:-1]
    ]
    text = MmsPart('text/plain; charset="utf-8"', ids[-1], draw(st.text(max_size=80)).encode())
    return MmsContent((smil, *media, text))


@settings(max_examples=60, deadline=None)
@given(contents(), st.sampled_from(["binary", "base64"]), st.booleans())
def test_round_trip(content, encoding, lf_only):
    body = build_related(b"<soap/>", build_content_part(content, encoding))
    raw = body.body
    if lf_only and all(b"\r" not in p.data for p in content.parts):
        raw = raw.replace(b"\r\n", b"\n")  # sloppy senders use bare LF
    http = split_mm7_http(raw, body.content_type)
    assert http.soap == b"<soap/>"
    leaves = flatten(http.attachments[0])
    assert [p.content_id for p in leaves] == [p.content_id for p in content.parts]
    assert [p.data for p in leaves] == [p.data for p in content.parts]


@given(st.dictionaries(st.sampled_from(["Type", "START", "boundary", "charset"]), _ids, min_size=1))
def test_content_type_params_case_insensitive(params):
    header = "Multipart/Related; " + "; ".join(f'{k}="{v}"' for k, v in params.items())
    media_type, parsed = parse_content_type(header)
    assert media_type == "multipart/related"
    assert parsed == {k.lower(): v for k, v in params.items()}
