"""Strict parsing of JSON request bodies: bounded nesting, finite numbers, real Unicode text.

Python's json module recurses once per nesting level (100k `[` raise RecursionError), accepts
NaN/Infinity, turns 1e999 into inf and decodes "\\ud800" into a lone surrogate that later fails to
encode (bcrypt, the database). Everything here raises InvalidJson (400) instead. No Flask here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from errors import InvalidJson

MAX_JSON_DEPTH = 64  # nesting levels of arrays and objects; refused before parsing, never recursed into
# One escape, quote or bracket. Read left to right once with an in-string flag, so "[" inside text is not
# nesting; a pattern matching whole strings instead was quadratic on a run of escaped quotes (1.2 s for
# 16 KiB of \" on the hub).
_ESCAPE_QUOTE_OR_BRACKET = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def parse_object(raw: bytes) -> dict[str, Any]:
    """`raw` as a JSON object, or InvalidJson naming the problem (and `field` for text that is not text)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("The request body must be JSON encoded as UTF-8.") from None
    _check_depth(text)
    try:
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError:  # malformed, or an integer over sys.get_int_max_str_digits()
        raise InvalidJson() from None
    if not isinstance(body, dict):
        raise InvalidJson("The request body must be a JSON object.")
    _check_text(body)
    return body


def _check_depth(text: str) -> None:
    depth, in_string = 0, False
    for match in _ESCAPE_QUOTE_OR_BRACKET.finditer(text):
        mark = match.group()
        if mark == '"':
            in_string = not in_string
        elif in_string or mark[0] == "\\":  # text, or an escape (outside a string json.loads refuses it)
            continue
        elif mark in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidJson(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")
        elif mark in ("]", "}"):
            depth -= 1


def _refuse_constant(name: str) -> float:
    raise InvalidJson(f"{name} is not a JSON number; send finite numbers only.")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidJson(f"The number {literal[:20]} is too large; send finite numbers only.")
    return value


def _check_text(body: dict[str, Any]) -> None:
    """Refuse unpaired surrogates (\\ud800-\\udfff), naming the top-level field that holds one."""
    for name, value in body.items():
        if not _is_text(name):
            raise InvalidJson("A field name contains an unpaired surrogate (\\ud800-\\udfff).", field="body")
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, str) and not _is_text(item):
                raise InvalidJson(f"{name} contains an unpaired surrogate (\\ud800-\\udfff), which is not text.",
                                  field=name)
            if isinstance(item, dict):
                pending.extend(item)
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
