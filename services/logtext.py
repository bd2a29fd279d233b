"""Untrusted text made safe to put in a log line: escaped, quoted, capped. Never imports Flask.

A log line that carries request-controlled text (a path, a header, a host from a feed) must not let that
text end the line, start a new one, or pass for the line's own words: escape() writes it as JSON string
content with every quote, backslash, control and non-ASCII character escaped and spaces as \\u0020, so no
untrusted text can spell " from 203.0.113.9 (failure 9" and match the documented fail2ban filter.
"""

from __future__ import annotations

import json

MAX_LOGGED_CHARS = 200


def quote(text: object, max_chars: int = MAX_LOGGED_CHARS) -> str:
    """`text` escaped (see escape()) inside double quotes."""
    return f'"{escape(text, max_chars)}"'


def escape(text: object, max_chars: int = MAX_LOGGED_CHARS) -> str:
    """`text` as one line of JSON string content without the quotes, spaces as \\u0020; cut to `max_chars`
    characters first, a cut marked with a trailing `...`."""
    value = text if isinstance(text, str) else str(text)
    escaped = json.dumps(value[:max_chars], ensure_ascii=True)[1:-1].replace(" ", "\\u0020")
    return escaped + ("..." if len(value) > max_chars else "")
