"""Keyset pages: a page starts after the last row of the page before, found through an index range scan, so any
page costs what the first costs (OFFSET reads and drops every row before it). Where a page ended travels as a
cursor: an opaque, URL-safe token, signed so that only one this server made is taken.

A listing is a sequence of parts (an album's albums, then its media), each ordered by a total order of keys; a
position is (part, the keys of the last row served, or None for the start of the part).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from peewee import SQL

from errors import ValidationFailed
from services.database import is_postgres
from services.gallery import listing

CURSOR_SALT = "photonix.browse-cursor"
KEY_PREFIX = "k"  # the keys are selected as k0, k1, … next to a row's own columns


@dataclass(frozen=True)
class Key:
    """One key of an order. Only a nullable key may hold NULL, and only the first key of an order may be one."""

    expr: Any
    descending: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Part:
    query: Any  # a peewee SELECT of the part's rows, without ORDER BY or LIMIT
    order: tuple[Key, ...]  # total: its last key is unique

    def count(self) -> int:
        """How many rows the part has (services/gallery/listing.py: a plain COUNT(*), made once while nothing
        changes)."""
        return listing.count(self.query)

    def ordered(self, keys_only: bool = False):
        """The part's rows in order, each with its keys selected as k0, k1, … (keys_only: nothing else, which the
        order's index alone can answer)."""
        keys = [key.expr.alias(f"{KEY_PREFIX}{n}") for n, key in enumerate(self.order)]
        selected = self.query.select(*keys) if keys_only else self.query.select_extend(*keys)
        return selected.order_by(*[k.expr.desc() if k.descending else k.expr for k in self.order])


@dataclass(frozen=True)
class Position:
    part: int
    keys: tuple | None  # None: before the part's first row
    served: int  # rows of the listing before this position (for the page number; moves when rows come or go)


def keys_of(row: Any, order: tuple[Key, ...]) -> tuple:
    return tuple(getattr(row, f"{KEY_PREFIX}{n}") for n in range(len(order)))


def rows_after(parts: list[Part], at: Position, count: int) -> list[tuple[int, Any]]:
    """Up to `count` (part index, row) pairs that follow `at`, in order: the rest of its part, then the parts after
    it. Each query is a range of an index that matches the part's order, limited to the rows still wanted."""
    found: list[tuple[int, Any]] = []
    for index in range(at.part, len(parts)):
        part = parts[index]
        bands = after(part.order, at.keys) if index == at.part and at.keys is not None else [SQL("1 = 1")]
        for band in bands:
            wanted = count - len(found)
            if wanted <= 0:
                return found
            found += [(index, row) for row in listing.rows(part.ordered().where(band).limit(wanted))]
    return found


def after(order: tuple[Key, ...], last: tuple) -> list:
    """Conditions selecting the rows after the one whose keys are `last`, to query one after the other. The
    first key's bound (`>=` / `<=`) is what the index range scan starts from; the rest break its ties. NULLs of a
    nullable first key sort lowest on SQLite and highest on PostgreSQL (each database's own order, which the
    indexes share), so they form a band of their own before or after the other values."""
    first, value = order[0], last[0]
    ties = _tie_after(order[1:], last[1:])
    nulls_follow = first.nullable and first.descending != is_postgres()
    if value is None:
        return [first.expr.is_null() & ties] + ([] if nulls_follow else [first.expr.is_null(False)])
    bound = first.expr <= value if first.descending else first.expr >= value
    bands = [bound & (_beyond(first, value) | ((first.expr == value) & ties))]
    return bands + ([first.expr.is_null()] if nulls_follow else [])


def _tie_after(keys: tuple[Key, ...], values: tuple):
    """Rows after `values` among those whose earlier keys are equal (the expanded form of a row comparison,
    which also takes mixed directions)."""
    condition = SQL("1 = 0")
    for key, value in reversed(list(zip(keys, values, strict=True))):
        condition = _beyond(key, value) | ((key.expr == value) & condition)
    return condition


def _beyond(key: Key, value: Any):
    return key.expr < value if key.descending else key.expr > value


class Cursors:
    """Signs and reads the cursors of one listing (a sort of one album): a cursor of another listing, or one
    that is cut short, altered or made up, is a 400 naming the field `cursor`."""

    def __init__(self, secret: str, listing: str, parts: list[Part]):
        self.serializer = URLSafeSerializer(secret, salt=CURSOR_SALT)
        self.listing, self.parts = listing, parts

    def make(self, part: int, row: Any, served: int) -> str:
        keys = keys_of(row, self.parts[part].order)
        return str(self.serializer.dumps({"l": self.listing, "p": part, "k": keys, "n": served}))

    def read(self, token: str) -> Position:
        try:
            data = self.serializer.loads(token)
        except BadData:
            raise ValidationFailed("cursor", "cursor is not one this server gave out: start again from page 1.") \
                from None
        if not isinstance(data, dict) or data.get("l") != self.listing:
            raise ValidationFailed("cursor", "cursor belongs to another album or sort: start again from page 1.")
        part, keys, served = data.get("p"), data.get("k"), data.get("n")
        if not (isinstance(part, int) and part in range(len(self.parts)) and isinstance(keys, list)
                and len(keys) == len(self.parts[part].order) and isinstance(served, int)):  # an older release's
            raise ValidationFailed("cursor", "cursor is out of date: start again from page 1.")
        return Position(part, tuple(keys), served)
