"""Peewee models: one BaseModel bound to a deferred database (see services/database.py).

Other issues add their models here. Timestamps are UTC epoch seconds in DoubleFields, the same on
SQLite and PostgreSQL (a FloatField would be a 4-byte real there: 128 s steps at today's epoch).
"""

from __future__ import annotations

import peewee

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Setting(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=100)
    value = peewee.TextField()
    updated_at = peewee.DoubleField()


class Event(BaseModel):
    id = peewee.BigAutoField()
    type = peewee.CharField(max_length=64)
    data = peewee.TextField()
    created_at = peewee.DoubleField(index=True)


class Lease(BaseModel):
    name = peewee.CharField(primary_key=True, max_length=64)
    holder = peewee.CharField(max_length=200)
    expires_at = peewee.DoubleField()


class Folder(BaseModel):
    """An album: a folder below PHOTOS_DIR ("" is the root). Paths are keyed by a hash so that long
    (up to 2048-character) paths never hit an index size limit."""

    path_hash = peewee.CharField(max_length=40, unique=True)
    path = peewee.TextField()
    parent_hash = peewee.CharField(max_length=40, null=True, index=True)
    name = peewee.TextField()
    sort_key = peewee.TextField()  # natural order: img2 before img10
    name_folded = peewee.TextField()  # casefolded, for search
    mtime = peewee.DoubleField(default=0.0)  # of the folder itself, as last scanned (0: never listed)
    item_count = peewee.IntegerField(default=0)  # direct albums + media
    cover_path = peewee.TextField(null=True)  # the newest photo anywhere below
    cover_mtime = peewee.DoubleField(null=True)
    cover_width = peewee.IntegerField(null=True)
    cover_height = peewee.IntegerField(null=True)


class Media(BaseModel):
    """A photo or video the gallery shows. Width/height are after EXIF orientation (None: unknown)."""

    path_hash = peewee.CharField(max_length=40, unique=True)
    path = peewee.TextField()
    folder_hash = peewee.CharField(max_length=40)
    name = peewee.TextField()
    sort_key = peewee.TextField()
    name_folded = peewee.TextField()
    folder_folded = peewee.TextField()  # the folder's name, casefolded: search finds photos by album name
    kind = peewee.CharField(max_length=8)  # photo | video
    mime = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField()
    mtime = peewee.DoubleField()
    width = peewee.IntegerField(null=True)
    height = peewee.IntegerField(null=True)

    class Meta:
        indexes = ((("folder_hash", "sort_key"), False), (("folder_hash", "mtime"), False))


class View(BaseModel):
    """Who opened which album when: a token subject or an anonymous visitor id."""

    viewer = peewee.CharField(max_length=64)
    path_hash = peewee.CharField(max_length=40)
    path = peewee.TextField()
    viewed_at = peewee.DoubleField()

    class Meta:
        primary_key = peewee.CompositeKey("viewer", "path_hash")
        indexes = ((("viewer", "viewed_at"), False),)


ALL_MODELS: tuple[type[BaseModel], ...] = (Setting, Event, Lease, Folder, Media, View)
