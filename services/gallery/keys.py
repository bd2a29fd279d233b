"""How names and paths become database keys: path hashes, natural sort keys, folded search text."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_DIGITS = re.compile(r"[0-9]+")


def path_hash(rel: str) -> str:
    return hashlib.sha1(rel.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def parent_of(rel: str) -> str | None:
    """The parent folder's relative path ("" for top-level names), None for the root itself."""
    if rel == "":
        return None
    return rel.rpartition("/")[0]


def name_of(rel: str) -> str:
    return rel.rpartition("/")[2]


def version(mtime: float) -> int:
    """A file's version in thumbnail URLs and events: its mtime in milliseconds."""
    return int(mtime * 1000)


def fold(text: str) -> str:
    """Case- and width-insensitive form for search (fullwidth letters match ASCII ones)."""
    return unicodedata.normalize("NFKC", text).casefold()


def natural_key(name: str) -> str:
    """A text key whose plain (binary) order is natural order: each run of digits becomes its length
    (two digits) then the digits without leading zeros, so img2 < img10 and digits sort before letters."""
    def number(match: re.Match[str]) -> str:
        digits = match.group().lstrip("0") or "0"
        return f"{min(len(digits), 99):02d}{digits}"

    return _DIGITS.sub(number, fold(name))
