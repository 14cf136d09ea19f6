"""The API's JSON renderer: DRF's, with orjson doing the encoding.

Every response goes through here, and the busiest one, a scan, answers with the whole
priced basket (10 KB for 40 lines): the standard library's encoder took as long to write
it as the pricing engine took to compute it. orjson writes the same JSON several times
faster. What it does not know natively is handed to DRF's encoder, so the output keeps
DRF's formats: datetimes, dates and times (passed through rather than orjson's own
format), decimals, lazy strings, sets, and dataclasses (passed through, so an object no
serializer rendered fails as it would with DRF rather than leaking its fields).

Where orjson would write something DRF does not (an integer past 64 bits, which it
refuses), or the client asks for indented JSON, DRF's renderer does the work as before.
Unlike DRF's strict renderer, a float NaN or infinity becomes ``null`` rather than a 500;
money is integer fen, so no amount is ever a float.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = JSONEncoder().default
# U+2028 and U+2029 are valid in JSON but end a line in older JavaScript; DRF escapes them
# so a response is also a JavaScript literal, and so does this renderer.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        for raw, escaped in _LINE_SEPARATORS:
            if raw in content:
                content = content.replace(raw, escaped)
        return content
