"""Hardening (#10), paths: every hostile path gets its precise refusal on every endpoint that takes one,
never a 500, and no request ever opens a file outside the gallery, the data dir, Python or the repo.

Each table row is the string the server sees after the one URL decode; the URL endpoints receive it
percent-encoded once more, so a row like "%2e%2e" is also the double-encoded attack on them: it is a plain
name, never decoded again, so it can only name a file called "%2e%2e" (a 404 here). Paths are POSIX: a
backslash or "C:" is part of a name. tests/security/test_names.py has the names that must open.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from models import Folder
from services.gallery.index import Indexer
from tests.support import images

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ("browse", "file", "thumbnail", "viewed")
LONG_NAME = "n" * 251 + ".jpg"  # 255 bytes, the longest name ext4 allows
WIDE_NAME = "猫" * 83 + "ab.jpg"  # 255 bytes in 89 characters
NFC_ALBUM = unicodedata.normalize("NFC", "café")
NFD_ALBUM = unicodedata.normalize("NFD", "résumé")
BAD = (400, "INVALID_PATH")
OUT = (403, "PATH_FORBIDDEN")
MISSING = (404, "NOT_FOUND")

HOSTILE: dict[str, tuple[int, str]] = {
    "..": BAD, "a/../..": BAD, "trip/../../secret.txt": BAD, "trip/./a.jpg": BAD,
    "..%2f..%2fsecret.txt": BAD,  # one hidden name (it starts with ".")
    "%2e%2e": MISSING, "%2E%2e/secret.txt": MISSING, "%252e%252e": MISSING, "%25252e%25252e": MISSING,
    "trip%2f..%2f..%2fsecret.txt": MISSING,  # one name with a literal "%2f" in it: nothing by that name
    "..\\..\\etc\\passwd": BAD,  # one hidden name
    "trip\\a.jpg": MISSING, "C:\\Windows": MISSING, "C:/Windows": MISSING, "c:": MISSING, "\\\\server\\share": MISSING,
    "/etc/passwd": BAD, "//server/share": BAD, "trip//a.jpg": BAD,
    "a\x00b": BAD, "trip/a.jpg\x00.png": BAD, "a\x01b": BAD, "a\x1fb": BAD, "a\x7fb": BAD, "a\nb": BAD,
    "a\rb": BAD, "a\x85b": BAD, "a\tb": MISSING,  # a tab is whitespace in a name, like a space
    "x" * 5000: BAD, "/".join(["d"] * 33): BAD, "n" * 252 + ".jpg": BAD, "猫" * 84 + ".jpg": BAD,
    "．．": BAD, "．．/secret.txt": BAD, "trip/．": BAD, "\u2024\u2024": BAD, "\u2025": BAD,
    "\ufe52\ufe52": BAD, "．env": BAD,
    "\u2026": BAD, "\u2026/secret.txt": BAD,  # an ellipsis folds (NFKC) to "...": a hidden name
    "\u3002\u3002": MISSING, "\uff61\uff61": MISSING,  # ideographic full stops are not dots: only names
    "a\u202eb": MISSING, "a\u200bb": MISSING,  # format characters are not control characters: names
    ".env": BAD, "trip/.env": BAD, ".git/config": BAD, ".hidden/h.jpg": BAD, "%2eenv": MISSING,
    "photonix.db": MISSING, "thumbs": MISSING, "../data/photonix.db": BAD, "..%2fdata%2fphotonix.db": BAD,
    "escape": OUT, "escape/private.jpg": OUT, "trip/leak.jpg": OUT, "trip/db.jpg": OUT, "to-hidden/h.jpg": OUT,
    "loop-a": MISSING, "loop-a/x.jpg": MISSING, "trip/a.jpg/child": MISSING,
}

# The audit hook is process-wide and cannot be removed: installed once, it records only while armed.
_armed = False
_opened: list[str] = []
_installed = False


def _audit(event: str, args: tuple) -> None:
    if not _armed or event not in ("open", "os.scandir", "os.listdir"):
        return
    with contextlib.suppress(Exception):  # an exception here would fail the audited call itself
        if args and isinstance(args[0], str | bytes | os.PathLike):
            _opened.append(os.path.abspath(os.fsdecode(args[0])))


@pytest.fixture(scope="session")
def audit_hook() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True


@contextlib.contextmanager
def recording_opens(audit_hook) -> Iterator[list[str]]:
    global _armed
    _opened.clear()
    _armed = True
    try:
        yield _opened
    finally:
        _armed = False


@pytest.fixture
def tree(photos_dir, tmp_path):
    """A gallery with traps: secrets outside it, links out, a link loop, hidden files, long and accented names."""
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "trip" / LONG_NAME, (64, 48))
    images.jpeg(photos_dir / "trip" / WIDE_NAME, (64, 48))
    images.jpeg(photos_dir / NFC_ALBUM / "x.jpg", (64, 48))
    images.jpeg(photos_dir / NFD_ALBUM / "y.jpg", (64, 48))
    images.jpeg(photos_dir / ".hidden" / "h.jpg", (64, 48))
    (photos_dir / ".env").write_text("PHOTONIX_JWT_SECRET=in-the-gallery-root")
    (photos_dir / ".git").mkdir()
    (photos_dir / ".git" / "config").write_text("[core]")
    (tmp_path / "secret.txt").write_text("top secret")
    images.jpeg(tmp_path / "outside" / "private.jpg", (64, 48))
    os.symlink(tmp_path / "outside", photos_dir / "escape")
    os.symlink(tmp_path / "secret.txt", photos_dir / "trip" / "leak.jpg")
    os.symlink(tmp_path / "data" / "photonix.db", photos_dir / "trip" / "db.jpg")
    os.symlink(photos_dir / ".hidden", photos_dir / "to-hidden")
    os.symlink(photos_dir / "loop-b", photos_dir / "loop-a")
    os.symlink(photos_dir / "loop-a", photos_dir / "loop-b")
    return photos_dir


@pytest.fixture
def gallery(client, tree, config):
    Indexer(config.photos_dir).scan()
    return client


def call(client, endpoint: str, raw: str):
    if endpoint == "browse":
        return client.get("/api/browse/" + quote(raw, safe="/"))
    if endpoint == "file":
        return client.get("/api/file/" + quote(raw, safe="/"))
    if endpoint == "thumbnail":
        return client.get("/api/thumbnail", query_string={"path": raw, "v": "1"})
    return client.post("/api/browse/viewed", json={"path": raw})


def outcome(response) -> tuple[int, str | None]:
    body = response.get_json(silent=True) or {}
    return response.status_code, body.get("code")


def names(response) -> list[str]:
    return [item["name"] for item in response.get_json()["items"]]


def hostile_for(endpoint: str) -> dict[str, tuple[int, str]]:
    if endpoint not in ("browse", "file"):
        return HOSTILE
    # A URL path cannot start with "/": the router merges the slashes and redirects first (tested below).
    # Nor a newline: the router's <path:> converter does not match one, so no view runs and it is a 404.
    return {raw: MISSING if "\n" in raw else expected for raw, expected in HOSTILE.items()
            if not raw.startswith("/")}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_hostile_path_gets_its_precise_refusal(gallery, endpoint):
    wrong = {}
    for raw, expected in hostile_for(endpoint).items():
        got = outcome(call(gallery, endpoint, raw))
        if got != expected:
            wrong[raw[:60]] = got
    assert wrong == {}


def test_a_lone_surrogate_in_json_is_invalid(gallery):
    for body in ({"path": "\ud800"}, {"path": "trip/\udcff.jpg"}):
        response = gallery.post("/api/browse/viewed", json=body)  # refused where JSON is parsed (json_body)
        assert outcome(response) == (400, "INVALID_JSON") and response.get_json()["field"] == "path"


@pytest.mark.parametrize("url, expected", [
    ("/api/browse/%2e%2e", BAD), ("/api/browse/%2E%2e/x", BAD), ("/api/browse/%252e%252e", MISSING),
    ("/api/browse/%25252e%25252e", MISSING),
    ("/api/browse/%2525252e%2525252e", MISSING), ("/api/file/trip//a.jpg", BAD),
    ("/api/file/..%2f..%2fsecret.txt", BAD),
    ("/api/browse/..%5c..%5cetc", BAD), ("/api/browse/%5c%5cserver%5cshare", MISSING),
    ("/api/browse/C:%5cWindows", MISSING),
    ("/api/browse/a%00b", BAD), ("/api/browse/%c0%ae%c0%ae", MISSING), ("/api/browse/%ef%bc%8e%ef%bc%8e", BAD),
    ("/api/browse/%ff%fe", MISSING), ("/api/file/trip/a.jpg%00.png", BAD), ("/api/browse/%2ehidden", BAD),
    ("/api/thumbnail?path=..%2f..%2fsecret.txt", BAD), ("/api/thumbnail?path=%2fetc%2fpasswd", BAD),
    ("/api/thumbnail?path=%252e%252e%252fsecret.txt", MISSING), ("/api/thumbnail?path=trip%5cleak.jpg", MISSING),
])
def test_literal_encoded_urls(gallery, url, expected):
    assert outcome(gallery.get(url)) == expected


def test_an_encoded_slash_is_a_slash_after_the_one_decode(gallery):
    assert gallery.get("/api/file/trip%2fa.jpg").status_code == 200
    assert outcome(gallery.get("/api/browse/trip%2fa.jpg")) == MISSING  # a photo, not an album


@pytest.mark.parametrize("url", ["/api/browse//etc/passwd", "/api/file//etc/passwd", "/api/browse/%2fetc%2fpasswd",
                                 "/api/file//trip/a.jpg"])
def test_absolute_paths_in_urls_are_400(gallery, url):
    assert outcome(gallery.get(url)) == BAD


def test_search_never_finds_what_the_gallery_hides(gallery):
    for query in [*HOSTILE, "leak", "secret", "private", "env", "git", "config", "hidden", "photonix", "loop", "db"]:
        response = gallery.get("/api/search", query_string={"q": query})
        # too long, an unknown filter, or a NUL (no name has one; PostgreSQL cannot even compare it)
        if len(query.strip()) > 200 or re.search(r"(?<!\S)[A-Za-z]+:\S", query) or "\x00" in query:
            assert outcome(response) == (400, "VALIDATION_ERROR") and response.get_json()["field"] == "q"
            continue
        assert response.status_code == 200, query
        paths = [item["path"] for item in response.get_json()["items"]]
        assert all(p.split("/")[0] in ("trip", NFC_ALBUM, NFD_ALBUM) for p in paths), (query, paths)
        assert not {"trip/leak.jpg", "trip/db.jpg"} & set(paths)


def test_listings_show_no_hidden_names_links_out_or_loops(gallery):
    assert sorted(names(gallery.get("/api/browse"))) == sorted(["trip", NFC_ALBUM, NFD_ALBUM])
    assert sorted(names(gallery.get("/api/browse/trip"))) == sorted(["a.jpg", LONG_NAME, WIDE_NAME])


def test_the_longest_names_work_and_one_byte_more_is_refused(gallery):
    for name in (LONG_NAME, WIDE_NAME):
        assert len(name.encode()) == 255
        assert gallery.get("/api/file/trip/" + quote(name)).status_code == 200
        thumb = gallery.get("/api/thumbnail", query_string={"path": f"trip/{name}", "v": "1"})
        assert thumb.status_code == 200 and thumb.mimetype == "image/webp"
    for name in ("n" * 252 + ".jpg", "猫" * 84 + ".jpg"):
        assert len(name.encode()) == 256
        assert outcome(gallery.get("/api/file/trip/" + quote(name))) == BAD


def test_accented_names_resolve_in_the_form_on_disk_only(gallery):
    """Paths are compared byte for byte, as the filesystem does: the form listed by browse (the one on disk)
    resolves, the other normal form is a clean 404. Clients only ever send back the names browse gave them."""
    assert set(names(gallery.get("/api/browse"))) >= {NFC_ALBUM, NFD_ALBUM}
    for on_disk, other, photo in ((NFC_ALBUM, unicodedata.normalize("NFD", NFC_ALBUM), "x.jpg"),
                                  (NFD_ALBUM, unicodedata.normalize("NFC", NFD_ALBUM), "y.jpg")):
        assert on_disk != other
        assert gallery.get("/api/browse/" + quote(on_disk)).status_code == 200
        assert gallery.get(f"/api/file/{quote(on_disk)}/{photo}").status_code == 200
        assert outcome(gallery.get("/api/browse/" + quote(other))) == MISSING
        assert outcome(gallery.get(f"/api/file/{quote(other)}/{photo}")) == MISSING
        assert outcome(gallery.post("/api/browse/viewed", json={"path": other})) == MISSING


def test_symlink_loops_answer_at_once(gallery):
    started = time.monotonic()
    for endpoint in ENDPOINTS:
        for raw in ("loop-a", "loop-b/x.jpg", "loop-a/loop-b/loop-a"):
            assert outcome(call(gallery, endpoint, raw)) == MISSING
    assert time.monotonic() - started < 5


def test_a_link_to_an_ancestor_is_not_an_endless_album(gallery, tree):
    os.symlink(tree, tree / "self")
    os.symlink(tree / "trip", tree / "trip" / "up")
    albums = Folder.select().count()
    for url in ("/api/browse/self", "/api/browse/self/self/trip", "/api/browse/trip/up/up"):
        assert outcome(gallery.get(url)) == MISSING, url
    assert Folder.select().count() == albums
    assert [item["path"] for item in gallery.get("/api/search?q=a.jpg").get_json()["items"]] == ["trip/a.jpg"]


def allowed_roots(config) -> list[Path]:
    return [config.photos_dir, config.data_dir.resolve(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
            Path(sys.exec_prefix).resolve(), ROOT / "templates", ROOT / "static"]


def outside(opened: list[str], roots: list[Path]) -> list[str]:
    system_tables = {str(Path(p).resolve()) for p in mimetypes.knownfiles}  # the standard library's MIME tables
    found = []
    for path in opened:
        real = Path(path).resolve()
        code = real.suffix in (".py", ".pyc") and ROOT in real.parents and "tests" not in real.parts
        if not code and str(real) not in system_tables and not any(real == r or r in real.parents for r in roots):
            found.append(str(real))
    return found


def test_no_request_opens_anything_outside_the_gallery(gallery, config, tmp_path, audit_hook):
    secrets = {tmp_path / "secret.txt", tmp_path / "outside" / "private.jpg"}
    with recording_opens(audit_hook) as opened:
        for endpoint in ENDPOINTS:
            for raw in [*HOSTILE, "trip", "trip/a.jpg", f"trip/{LONG_NAME}", f"{NFC_ALBUM}/x.jpg"]:
                assert call(gallery, endpoint, raw).status_code != 500, (endpoint, raw)
        for query in ("secret", "private", "leak", ".."):
            gallery.get("/api/search", query_string={"q": query})
        gallery.get("/api/browse")
        gallery.get("/api/browse/trip")
    assert str(config.photos_dir / "trip" / "a.jpg") in opened  # the hook saw the requests' reads
    assert outside(opened, allowed_roots(config)) == []
    assert not {Path(p).resolve() for p in opened} & secrets


class TestDataDirInsidePhotos:
    """The data dir may sit inside PHOTOS_DIR only in a hidden folder: then nothing of it is browsable or served."""

    @pytest.fixture
    def env(self, env, photos_dir):
        inside = photos_dir / ".photonix"
        changed = {**env, "PHOTONIX_DATA_DIR": str(inside)}
        if env["PHOTONIX_DATABASE_URL"].startswith("sqlite"):
            changed["PHOTONIX_DATABASE_URL"] = f"sqlite:///{inside / 'photonix.db'}"
        return changed

    @pytest.fixture
    def inside(self, client, photos_dir, config):
        images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
        os.symlink(photos_dir / ".photonix" / "thumbs", photos_dir / "cache")
        os.symlink(photos_dir / ".photonix" / "photonix.db", photos_dir / "trip" / "db.jpg")
        Indexer(config.photos_dir).scan()
        assert client.get("/api/thumbnail?path=trip/a.jpg&v=1").status_code == 200  # the cache has a file now
        return client

    def test_nothing_of_the_data_dir_is_browsable_or_served(self, inside, config, photos_dir):
        assert config.data_dir == photos_dir / ".photonix"
        webp = next(config.data_dir.rglob("*.webp")).relative_to(photos_dir).as_posix()
        db_file = (config.data_dir / "photonix.db").relative_to(photos_dir).as_posix()
        for endpoint in ENDPOINTS:
            for raw in (".photonix", db_file, webp, "．photonix/photonix.db"):
                assert outcome(call(inside, endpoint, raw)) == BAD, (endpoint, raw)
            assert outcome(call(inside, endpoint, "%2ephotonix/photonix.db")) == MISSING  # a plain name
            for raw in ("cache", "trip/db.jpg"):
                assert outcome(call(inside, endpoint, raw)) == OUT, (endpoint, raw)
        assert names(inside.get("/api/browse")) == ["trip"]
        assert names(inside.get("/api/browse/trip")) == ["a.jpg"]
        for query in ("photonix", "thumbs", "webp", "cache", "db"):
            assert inside.get("/api/search", query_string={"q": query}).get_json()["items"] == []
