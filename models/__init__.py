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
    # Who may receive it: everyone | admin. Rows from before the column existed count as admin (fail closed).
    audience = peewee.CharField(max_length=16, default="admin", constraints=[peewee.SQL("DEFAULT 'admin'")])


class RevokedSession(BaseModel):
    """A logged-out session (the `sid` claim of its tokens), kept until its last token would expire."""

    sid = peewee.CharField(primary_key=True, max_length=64)
    expires_at = peewee.DoubleField(index=True)


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
    cover_placeholder = peewee.TextField(null=True)  # the cover's Media.placeholder


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
    # Details read with the header (services/gallery/metadata.py, videometa.py); None when unknown.
    taken_at = peewee.TextField(null=True)  # ISO 8601 local time, with its offset when known
    taken_from = peewee.CharField(max_length=8, null=True)  # exif | video | mtime
    taken_key = peewee.DoubleField(null=True)  # the local wall-clock time as seconds since 1970: sorts and groups
    camera_make = peewee.TextField(null=True)
    camera_model = peewee.TextField(null=True)
    lens = peewee.TextField(null=True)
    focal_length = peewee.DoubleField(null=True)  # mm
    f_number = peewee.DoubleField(null=True)
    exposure_time = peewee.DoubleField(null=True)  # seconds
    iso = peewee.IntegerField(null=True)
    gps_lat = peewee.DoubleField(null=True)
    gps_lon = peewee.DoubleField(null=True)
    gps_alt = peewee.DoubleField(null=True)  # metres
    duration = peewee.DoubleField(null=True)  # seconds, videos
    codec = peewee.TextField(null=True)  # videos
    audio_codec = peewee.TextField(null=True)  # videos: the first audio stream's codec, None without sound
    meta_version = peewee.IntegerField(default=0)  # below services.gallery.index.META_VERSION: read again
    # Learnt from its thumbnail (services/gallery/placeholders.py); a changed file gets a new row without them.
    placeholder = peewee.TextField(null=True)  # ThumbHash, base64 ("": the thumbnail could not be read)
    thumb_failed = peewee.IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])  # 1: never a cover

    # Its indexes are made by services/database.py's init_db: after it added taken_key, and browse's in each
    # database's own terms (PostgreSQL's compare sort_key as "C").


class FolderMonth(BaseModel):
    """How many photos and videos were taken in one month anywhere below a folder (the timeline's months),
    kept by the index with the folder's other aggregates."""

    folder_hash = peewee.CharField(max_length=40)
    month = peewee.IntegerField()  # year * 100 + month of the local wall-clock date taken
    count = peewee.IntegerField()

    class Meta:
        primary_key = peewee.CompositeKey("folder_hash", "month")


class Share(BaseModel):
    """A share link (issue 22): an album (the root included) or one photo, open to whoever has its token.
    The token itself is never stored: services/shares/tokens.py."""

    token_hash = peewee.CharField(max_length=64, unique=True)  # keyed lookup hash
    token_sealed = peewee.TextField()  # AES-GCM, for the admin's list only
    path = peewee.TextField()
    kind = peewee.CharField(max_length=8)  # album | photo
    title = peewee.TextField(default="")
    password_hash = peewee.TextField(null=True)
    password_hint = peewee.TextField(null=True)
    allow_download = peewee.BooleanField(default=False)
    created_at = peewee.DoubleField()
    expires_at = peewee.DoubleField(null=True)  # None: never (only when the admin allows such links)
    revoked_at = peewee.DoubleField(null=True)
    views = peewee.IntegerField(default=0)
    last_viewed_at = peewee.DoubleField(null=True)


class View(BaseModel):
    """Who opened which album when: a token subject or an anonymous visitor id."""

    viewer = peewee.CharField(max_length=64)
    path_hash = peewee.CharField(max_length=40)
    path = peewee.TextField()
    viewed_at = peewee.DoubleField()

    class Meta:
        primary_key = peewee.CompositeKey("viewer", "path_hash")
        indexes = ((("viewer", "viewed_at"), False),)


class Feed(BaseModel):
    """A download-center task: one feed subscription. `cookie` is write-only: never returned or exported."""

    url = peewee.TextField()
    url_hash = peewee.CharField(max_length=40, unique=True)
    title = peewee.TextField()
    enabled = peewee.BooleanField(default=True)  # status: running | paused
    interval_minutes = peewee.IntegerField()
    target_folder = peewee.TextField()  # gallery-relative, inside PHOTOS_DIR
    category = peewee.TextField(default="")
    tags = peewee.TextField(default="[]")  # JSON list of strings
    exclude_keywords = peewee.TextField(default="[]")  # JSON list of strings
    cookie = peewee.TextField(null=True)
    etag = peewee.TextField(null=True)
    last_modified = peewee.TextField(null=True)
    created_at = peewee.DoubleField()
    next_run_at = peewee.DoubleField(null=True, index=True)
    last_run_at = peewee.DoubleField(null=True)
    last_success_at = peewee.DoubleField(null=True)
    last_error = peewee.TextField(null=True)
    entries_seen = peewee.IntegerField(default=0)
    images_saved = peewee.IntegerField(default=0)
    images_failed = peewee.IntegerField(default=0)
    bytes_saved = peewee.BigIntegerField(default=0)


class FeedEntry(BaseModel):
    """An entry seen in a feed, with the image URLs it had, so unfinished work resumes even when the
    feed later answers 304 or drops the entry. status: new | queued | partial | done | excluded."""

    feed = peewee.ForeignKeyField(Feed, on_delete="CASCADE", index=False)
    entry_key = peewee.CharField(max_length=200)
    title = peewee.TextField()
    link = peewee.TextField(null=True)
    image_urls = peewee.TextField()  # JSON list
    published = peewee.DoubleField(null=True)
    seen_at = peewee.DoubleField()
    status = peewee.CharField(max_length=16)
    next_attempt_at = peewee.DoubleField(default=0.0)

    class Meta:
        indexes = ((("feed", "entry_key"), True), (("feed", "status"), False))


class Download(BaseModel):
    """One image URL and what became of it: ok (saved at `path`), duplicate (same content as `path`),
    rejected (not an acceptable image), failed (retried with backoff until `attempts` runs out)."""

    feed = peewee.ForeignKeyField(Feed, null=True, on_delete="SET NULL", index=True)
    entry_key = peewee.CharField(max_length=200)
    url = peewee.TextField()
    url_hash = peewee.CharField(max_length=40, unique=True)
    sha256 = peewee.CharField(max_length=64, null=True, index=True)
    path = peewee.TextField(null=True)
    bytes = peewee.BigIntegerField(default=0)
    status = peewee.CharField(max_length=16)
    error = peewee.TextField(null=True)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DoubleField(default=0.0)
    created_at = peewee.DoubleField(index=True)
    updated_at = peewee.DoubleField()


class DownloadLog(BaseModel):
    """The download center's log (capped): level info | warning | error, scope task | scheduler | config."""

    id = peewee.BigAutoField()
    level = peewee.CharField(max_length=8)
    scope = peewee.CharField(max_length=16)
    feed_id = peewee.IntegerField(null=True, index=True)
    message = peewee.TextField()
    meta = peewee.TextField(default="{}")
    created_at = peewee.DoubleField()


class Caption(BaseModel):
    """An AI caption of one photo version (path, mtime, size) for one model and prompt (services/ai/captions.py).
    `key` hashes all of them; a changed prompt gets a new row, and a changed file's first new caption drops the old."""

    key = peewee.CharField(max_length=64, unique=True)
    path_hash = peewee.CharField(max_length=40, index=True)
    path = peewee.TextField()
    mtime = peewee.DoubleField()
    size = peewee.BigIntegerField()
    model = peewee.TextField()
    language = peewee.CharField(max_length=16, default="")
    text = peewee.TextField()
    text_folded = peewee.TextField()  # services.gallery.keys.fold(text): search finds photos by their caption
    created_at = peewee.DoubleField()


ALL_MODELS: tuple[type[BaseModel], ...] = (Setting, Event, Lease, Folder, Media, FolderMonth, View, Feed, FeedEntry,
                                           Download, DownloadLog, RevokedSession, Share, Caption)
