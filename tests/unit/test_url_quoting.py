"""blueprints/_gallery.py quoted(): a gallery path in item URLs exactly as urllib.parse.quote writes it, in a URL's
path ("/" kept) and as a query-string value ("/" as %2F), also for the names its fast path leaves to quote()."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest

from blueprints._gallery import quoted

TRICKY = ["", "/", "a", "img_0001.JPG", "2024/trip/img 1.jpg", "100%.jpg", "%2F", "%", "a#b", "why?.jpg", "a&b=c;d",
          "plus+sign", "tilde~dash-under_dot.", "..", "./x", "back\\slash", "quote'd \"dq\"", "new\nline", "tab\t",
          "nul\x00", "del\x7f", "中文相册/日本語.jpg", "émoji 🎉/party🎉.jpg", "Zürich/ñandú", "e\u0301", "\u00a0nbsp",
          "\ufeffbom", "zero\u200bwidth", "a" * 2048, "/".join(["deep"] * 50), "trailing/", "//double", "ĳ", "Ａ"]
# Every printable ASCII and control character alone, at the end of a plain name and inside a folder path.
ASCII = [chr(n) for n in range(128)]
NAMES = TRICKY + ASCII + [f"img{c}" for c in ASCII] + [f"dir{c}x/img.jpg" for c in ASCII] + \
    [string.ascii_letters + string.digits + "_.-~/"]


def test_quoted_is_what_urllib_quote_gives():
    differ = [name for name in NAMES if quoted(name) != (quote(name), quote(name, safe=""))]
    assert not differ


def test_a_name_that_is_not_text_fails_as_quote_does():
    with pytest.raises(UnicodeEncodeError):
        quote("lone\udc80surrogate")
    with pytest.raises(UnicodeEncodeError):
        quoted("lone\udc80surrogate")
