"""AI captions of photos: the image sent (the preview, at most 1024 px, as a JPEG with no metadata, made on the
CPU pool), the per-client daily quota (in the limiter storage, so every worker and node counts together), and
the captions kept per (photo version, model, prompt) in the `caption` table. No Flask.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from limits import RateLimitItemPerDay
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from peewee import SQL, fn
from PIL import Image

from errors import AiQuota, LimiterUnavailable, NotAPhoto, ValidationFailed
from models import Caption, Media, database
from services import cpu
from services.ai import client
from services.ai.settings import AiSettings
from services.gallery import thumbs
from services.gallery.keys import fold, path_hash
from services.gallery.tree_move import at_or_below
from services.thumbnails import Thumbnailer

MAX_SIDE_PX = 1024
JPEG_QUALITY = 85
QUOTA_PREFIX = "photonix-ai"
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}")
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese", "zh-cn": "Simplified Chinese",
                  "zh-hans": "Simplified Chinese", "zh-tw": "Traditional Chinese", "zh-hant": "Traditional Chinese"}


@dataclass(frozen=True)
class Described:
    caption: str
    model: str
    cached: bool

    def as_json(self) -> dict[str, object]:
        return {"caption": self.caption, "model": self.model, "cached": self.cached}


def checked_language(value: object) -> str:
    """A BCP 47 language tag ("en", "zh-CN") in lower case, or "" when none was sent."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        raise ValidationFailed("language", "language must be a language tag such as en or zh-CN.")
    return value.lower()


def prompt_for(config: AiSettings, language: str) -> str:
    """The admin's prompt, asking for the UI's language unless the prompt itself names another."""
    if not language:
        return config.prompt
    name = LANGUAGE_NAMES.get(language) or LANGUAGE_NAMES.get(language.split("-")[0]) or f"the language {language}"
    return f"{config.prompt}\n\nAnswer in {name}, unless the instructions above ask for another language."


class Quota:
    """At most `limit` upstream calls per client per day (a fixed window from the client's first call), counted
    with the storage's atomic increment. A storage that cannot count refuses (fail closed: calls cost money)."""

    def __init__(self, storage: Storage):
        self._limiter = FixedWindowRateLimiter(storage)

    def charge(self, client_key: str, limit: int) -> None:
        item = RateLimitItemPerDay(limit)
        try:
            if self._limiter.hit(item, QUOTA_PREFIX, client_key):
                return
            reset = self._limiter.get_window_stats(item, QUOTA_PREFIX, client_key).reset_time
        except Exception:  # a lost Redis raises its own errors
            raise LimiterUnavailable("The counter for AI captions is not reachable; try again later.") from None
        raise AiQuota(limit, max(1, int(reset - time.time()) + 1))


def cached(media: Media, config: AiSettings, language: str) -> Described | None:
    row = Caption.get_or_none(Caption.key == _key(media, config, language))
    return Described(row.text, row.model, True) if row else None


def latest(media: Media) -> dict[str, object] | None:
    """The newest caption of this version of the photo (any model or prompt), for the info panel."""
    row = (Caption.select().where((Caption.path_hash == path_hash(media.path)) & (Caption.mtime == media.mtime)
                                  & (Caption.size == media.size))
           .order_by(Caption.created_at.desc(), Caption.id.desc()).first())
    return {"text": row.text, "model": row.model, "language": row.language or None,
            "createdAt": row.created_at} if row else None


def describe(media: Media, real: Path, previewer: Thumbnailer, config: AiSettings, language: str,
             charge: Callable[[], None]) -> Described:
    """The kept caption, or a new one from the AI server (after `charge`, which raises when over quota)."""
    found = cached(media, config, language)
    if found is not None:
        return found
    request = _request(media, real, previewer, config, language)
    charge()
    text = client.complete(config, request)
    _keep(media, config, language, text)
    return Described(text, config.model, False)


def describe_stream(media: Media, real: Path, previewer: Thumbnailer, config: AiSettings, language: str,
                    charge: Callable[[], None]) -> Described | CaptionStream:
    """The kept caption, or a CaptionStream of a new one. Everything that can fail before the stream starts
    (quota, image, the AI server's refusal or error status) raises here."""
    found = cached(media, config, language)
    if found is not None:
        return found
    request = _request(media, real, previewer, config, language)
    charge()
    return CaptionStream(client.stream(config, request), config.model,
                         lambda text: _keep(media, config, language, text))


class CaptionStream:
    """A new caption's pieces as the AI server sends them, kept once whole. `close()` ends the call to the AI
    server, also when the stream was never read (the client went away first)."""

    def __init__(self, upstream: client.Stream, model: str, keep: Callable[[str], None]):
        self._upstream = upstream
        self.model = model
        self._keep = keep

    def __iter__(self) -> Iterator[str]:
        parts = []
        for piece in self._upstream:
            parts.append(piece)
            yield piece
        text = "".join(parts).strip()
        if text:
            self._keep(text)

    def close(self) -> None:
        self._upstream.close()


def prune(kept_below: list[str]) -> int:
    """Forget the captions of photo versions the index no longer holds (the photo removed, replaced or moved),
    except below `kept_below` (the trash's albums: a restore brings them back as they were); how many went. Only
    after a complete index (services/derived_upkeep.py), or a photo not yet indexed again would lose its caption."""
    indexed = Media.select(SQL("1")).where((Media.path_hash == Caption.path_hash) & (Media.mtime == Caption.mtime)
                                            & (Media.size == Caption.size))
    orphan = ~fn.EXISTS(indexed)
    for path in kept_below:
        orphan &= ~at_or_below(Caption.path, path)
    return Caption.delete().where(orphan).execute()


def preview_jpeg(webp: Path) -> bytes:
    """The preview as a JPEG fitting MAX_SIDE_PX, with no EXIF, XMP or ICC data (Pillow writes none unless
    asked). Runs on the CPU pool (services/cpu.py)."""
    with Image.open(webp) as image:
        image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
        rgb = image.convert("RGB")
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _request(media: Media, real: Path, previewer: Thumbnailer, config: AiSettings, language: str) -> client.Request:
    if media.kind != "photo":
        raise NotAPhoto("Only photos can be described; this is a video.")
    made = previewer.ensure(thumbs.source_for(real, media))
    if made.status != "ok" or made.path is None:
        raise NotAPhoto("This photo could not be read, so it cannot be described.")
    return client.Request(prompt_for(config, language), cpu.run_cpu(preview_jpeg, made.path))


def _key(media: Media, config: AiSettings, language: str) -> str:
    parts = [media.path, media.mtime, media.size, config.model, prompt_for(config, language)]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _keep(media: Media, config: AiSettings, language: str, text: str) -> None:
    """Keep the caption (when two requests made the same one at once, the first kept stays), and drop the captions
    of this path's earlier versions: nothing shows or finds them any more."""
    hashed = path_hash(media.path)
    with database.atomic():
        (Caption.insert(key=_key(media, config, language), path_hash=hashed, path=media.path, mtime=media.mtime,
                        size=media.size, model=config.model, language=language, text=text, text_folded=fold(text),
                        created_at=time.time())
         .on_conflict_ignore().execute())
        Caption.delete().where((Caption.path_hash == hashed)
                               & ((Caption.mtime != media.mtime) | (Caption.size != media.size))).execute()
