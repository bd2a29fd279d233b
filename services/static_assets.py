"""The files under static/: each one's content version, its gzip/brotli bodies, and what the page writes about
them (versioned URLs, the ES-module import map, the modulepreload list, the service worker's shell list).

A version is a hash of the file's content, so a URL that carries it names one content forever. Files are
re-checked by size and mtime when asked for (cheap stats), so a file replaced on disk gets a new version without
a restart. Never imports Flask: blueprints/pages.py serves what this module holds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

try:
    import brotli  # installed with flask-compress (CPython)
except ImportError:  # pragma: no cover - PyPy has brotlicffi instead; gzip alone still works
    brotli = None

VERSION_CHARS = 12
# The first view's module graph: app.js, and the gallery it imports lazily for the home route (static/js/app.js).
ENTRY_MODULES = ("js/app.js", "js/views/gallery.js")
SERVICE_WORKER = "sw.js"  # served at the app's root by blueprints/pages.py, never listed in its own shell
COMPRESSIBLE_TYPES = ("text/", "application/javascript", "application/json", "application/manifest+json",
                      "image/svg+xml")
MIN_COMPRESS_BYTES = 512  # below this a compressed body saves less than its headers cost
GZIP_LEVEL = 9
BROTLI_QUALITY = 5  # 11 saves ~9% more on our JS but takes 15x longer, once per file and process, on the hub
# Static imports and re-exports of relative modules: `import {a, b} from "./x.js"`, `import "./y.js"`.
_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["'](\.{1,2}/[^"']+)["']"""
                     r"""|^\s*import\s*["'](\.{1,2}/[^"']+)["']""", re.MULTILINE)
mimetypes.add_type("application/javascript", ".js")  # some systems' tables say text/plain: modules need JS
mimetypes.add_type("application/manifest+json", ".webmanifest")


@dataclass
class Asset:
    """One file's content as last read, its version, and its compressed bodies (made on first use)."""

    name: str  # relative to static/, "/"-separated: "js/app.js"
    data: bytes
    stamp: tuple[int, int]  # (mtime_ns, size) when read
    version: str = ""
    mimetype: str = "application/octet-stream"
    encoded: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.version = hashlib.sha256(self.data).hexdigest()[:VERSION_CHARS]
        self.mimetype = mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def encodings(self) -> tuple[str, ...]:
        """Content codings worth offering for this file, best first ("br", "gzip"), or none."""
        if len(self.data) < MIN_COMPRESS_BYTES or not self.mimetype.startswith(COMPRESSIBLE_TYPES):
            return ()
        return ("br", "gzip") if brotli is not None else ("gzip",)

    def body(self, encoding: str | None) -> bytes:
        """The file's bytes in `encoding` (one of encodings(), or None for identity), compressed once."""
        if encoding is None:
            return self.data
        if encoding not in self.encoded:
            if encoding == "br":
                self.encoded[encoding] = brotli.compress(self.data, quality=BROTLI_QUALITY)
            else:
                self.encoded[encoding] = gzip.compress(self.data, compresslevel=GZIP_LEVEL, mtime=0)
        return self.encoded[encoding]


# Every Asset read in this process, by absolute path: apps created again (the tests make hundreds) re-read nothing.
_READ: dict[Path, Asset] = {}


class StaticAssets:
    """The static/ folder at `root`, read and versioned; `refresh()` picks up files changed on disk."""

    def __init__(self, root: Path):
        self.root = root
        self.assets: dict[str, Asset] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-stat every file: read new or changed ones, forget removed ones."""
        self.assets = {name: asset for name, asset in ((name, _load(self.root, name)) for name in _walk(self.root))
                       if asset is not None}

    def get(self, name: str) -> Asset | None:
        """The asset called `name` (e.g. "js/app.js"), re-read if the file changed; None for anything else,
        so no path outside static/ can ever be named."""
        if name not in self.assets:
            return None
        asset = _load(self.root, name)
        if asset is None:
            self.assets.pop(name, None)
        else:
            self.assets[name] = asset
        return asset

    def url(self, name: str) -> str:
        """The page-relative URL of static/`name` with its version: "static/js/app.js?v=0123456789ab"."""
        asset = self.assets.get(name)
        return f"static/{name}?v={asset.version}" if asset else f"static/{name}"

    def import_map(self) -> str:
        """The page's import map as JSON text: every module's plain URL -> its versioned URL, both relative to
        the page's <base>, so a relative import anywhere in the graph loads the current version of its module."""
        imports = {f"./static/{name}": f"./{self.url(name)}" for name in sorted(self.assets) if name.endswith(".js")
                   and name != SERVICE_WORKER}
        # No "<" in script text: a name can never close the <script> element it is written into.
        return json.dumps({"imports": imports}, separators=(",", ":")).replace("<", "\\u003c")

    def preload(self) -> list[str]:
        """Versioned URLs of the first view's whole static-import graph (entries included), for modulepreload."""
        return [self.url(name) for name in self.module_graph(ENTRY_MODULES)]

    def module_graph(self, entries: Iterable[str]) -> list[str]:
        """Names of the modules reachable from `entries` through static imports, in first-seen order."""
        seen: list[str] = []
        queue = [name for name in entries if name in self.assets]
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.append(name)
            text = self.assets[name].data.decode("utf-8", errors="replace")
            for match in _IMPORT.finditer(text):
                target = _join(name, match.group(1) or match.group(2))
                if target in self.assets and target not in seen:
                    queue.append(target)
        return seen

    def shell(self) -> list[str]:
        """What the service worker keeps: the page ("./") and every static file's versioned URL."""
        return ["./", *(self.url(name) for name in sorted(self.assets) if name != SERVICE_WORKER)]

    def set_version(self) -> str:
        """One version for the whole set: changes when any file does (the service worker's cache name)."""
        digest = hashlib.sha256()
        for name in sorted(self.assets):
            digest.update(f"{name}\0{self.assets[name].version}\0".encode())
        return digest.hexdigest()[:VERSION_CHARS]


def _walk(root: Path) -> Iterator[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in sorted(files):
            if not file.startswith("."):
                yield Path(folder, file).relative_to(root).as_posix()


def _load(root: Path, name: str) -> Asset | None:
    """The file's Asset, read again only when its size or mtime changed; None once it is gone."""
    path = root / name
    try:
        info = path.stat()
    except OSError:
        return None
    stamp = (info.st_mtime_ns, info.st_size)
    known = _READ.get(path)
    if known is not None and known.stamp == stamp:
        return known
    try:
        asset = Asset(name, path.read_bytes(), stamp)
    except OSError:
        return None
    _READ[path] = asset
    return asset


def _join(importer: str, relative: str) -> str:
    """The static/-relative name that `relative` (e.g. "../dom.js") names from the module `importer`."""
    parts = importer.split("/")[:-1]
    for piece in relative.split("?")[0].split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)
