"""Issue #18, names: whatever browse or search lists opens, and a name that would not open is not listed.

URLs are built the way the front end builds them: browse URLs with each path segment through
encodeURIComponent (static/js/dom.js encodePath), originals and thumbnails from the item's own
originalUrl and thumbnailUrl, and, as a browser's URLSearchParams would, a form-encoded thumbnail query.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import unicodedata
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gallery.index import Indexer
from tests.support import images

LEGITIMATE = ["B: Trip", "B: Trip/x.jpg", "C:", "tab\there.jpg", "back\\slash.jpg", "up\\..\\..\\etc.jpg",
              "%2e%2e.jpg", "%2ehidden-not.jpg", "%252e%252e.png", "%2e%2e", "B: Trip/%2e%2e.jpg"]
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", "~")
_counter = itertools.count(1)


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent (UTF-8, everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) escaped)."""
    return quote(text, safe="-_.!~*'()")


def encode_path(path: str) -> str:
    return "/".join(encode_uri_component(segment) for segment in path.split("/"))


def listed(client, folder: str) -> dict[str, dict]:
    """name → item of everything browse lists in `folder`, every page."""
    items: dict[str, dict] = {}
    base = f"/api/browse/{encode_path(folder)}" if folder else "/api/browse"
    for page in itertools.count(1):
        body = client.get(f"{base}?limit=200&page={page}").get_json()
        items.update((item["name"], item) for item in body["items"])
        if page >= body["totalPages"]:
            return items


def opens(client, path: str, is_album: bool) -> bool:
    """Whether the path opens through every URL the front end (or a browser form) would build for it."""
    if is_album:
        return client.get("/api/browse/" + encode_path(path)).status_code == 200
    urls = ["/api/file/" + encode_path(path), "/api/thumbnail?" + urlencode({"path": path, "v": "1"})]
    return all(client.get(url).status_code == 200 for url in urls)


def item_opens(client, item: dict) -> bool:
    if item["type"] == "album":
        return opens(client, item["path"], True)
    return all(client.get(url).status_code == 200 for url in (item["originalUrl"], item["thumbnailUrl"]))


def searched(client, name: str) -> set[str]:
    """The paths search finds for `name` (its lone surrogates left out: no URL can carry them)."""
    query = name.encode("utf-8", "ignore").decode().strip()[:100]
    if not query:
        return set()
    if re.search(r"(?<!\S)[A-Za-z]+:\S", query):  # `B:.tmp` would be a search filter: quoted, it is the name
        if '"' in query:  # a quote cannot be quoted: the longest piece without one (`B:"x.jpg` → `x.jpg`)
            query = max(query.split('"'), key=len).strip()
        query = f'"{query}"' if query else query
    if not query:
        return set()
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code == 200, (query, response.get_json())
    return {item["path"] for item in response.get_json()["items"]}


def make(root: Path, path: str) -> None:
    target = root / path
    if target.suffix.lower() == ".png":
        images.png(target, (16, 12))
    elif target.suffix.lower() == ".jpg":
        images.jpeg(target, (16, 12))
    else:
        images.jpeg(target / "inside.jpg", (16, 12))


@pytest.fixture
def gallery(client, photos_dir, config):
    for path in LEGITIMATE:
        make(photos_dir, path)
    Indexer(config.photos_dir).scan()
    return client


@pytest.mark.parametrize("path", LEGITIMATE)
def test_a_legitimate_name_is_listed_and_opens(gallery, path):
    folder, _, name = path.rpartition("/")
    is_album = "." not in name
    items = listed(gallery, folder)
    assert name in items, sorted(items)
    assert opens(gallery, path, is_album) and item_opens(gallery, items[name])
    assert items[name]["path"] == path
    assert path in searched(gallery, name)


def test_the_deepest_and_longest_paths_listed_still_open(gallery, photos_dir):
    """32 levels and 2048 characters are the most a path may have: nothing beyond is listed."""
    deepest = "/".join(["d"] * 31)  # an album 31 levels down: its photos are at level 32
    long_album = "/".join(["n" * 200] * 10)  # 2009 characters
    fits = "f" * (2048 - len(long_album) - 1 - 4) + ".jpg"
    paths = [f"{deepest}/ok.jpg", f"{deepest}/d/too-deep.jpg", f"{long_album}/{fits}", f"{long_album}/x{fits}"]
    for path in paths:
        make(photos_dir, path)
    Indexer(photos_dir).scan()
    assert set(listed(gallery, deepest)) == {"ok.jpg", "d"} and opens(gallery, f"{deepest}/ok.jpg", False)
    assert listed(gallery, f"{deepest}/d") == {}  # the album opens; the photo in it would be 33 levels deep
    assert set(listed(gallery, long_album)) == {fits} and opens(gallery, f"{long_album}/{fits}", False)
    assert searched(gallery, "too-deep") == set() and searched(gallery, "x" + fits[:40]) == set()


# Pieces of names: drive letters, separators of other systems, percent signs decoded once or twice,
# dots and look-alike dots, control and format characters, URL metacharacters, non-UTF-8 bytes.
PIECES = ["B:", "c:", ":", "\\", "\t", "%2e", "%2E", "%25", "%", "%2f", "%00", ".", "..", " ", "#", "?", "&", "+",
          "=", ";", "~", "~$", ".#", "'", "(", "!", "*", "\n", "\r", "\x01", "\x7f", "\x85", "\u2024", "．", "\u2026",
          "\u202e", "\u200b", "é", "e\u0301", "猫", "😀", "\udcff", "\udc80", "a", "Z", "1"]
NAMES = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1, max_size=6).map("".join)
SUFFIXES = st.one_of(st.sampled_from([".jpg", ".png", ".JPG"]), st.sampled_from([".tmp", ".jpg~", ".part", ".txt", ""]))


@st.composite
def entries(draw) -> list[tuple[str, bool]]:
    """(name, is_album) pairs for one example, names distinct."""
    found: dict[str, bool] = {}
    for _ in range(draw(st.integers(1, 4))):
        is_album = draw(st.booleans())
        name = draw(NAMES) + ("" if is_album else draw(SUFFIXES))
        if is_album and os.path.splitext(name)[1].lower() in (".jpg", ".png"):
            name += "_"
        found[name] = is_album
    return list(found.items())


def expected_listed(name: str, is_album: bool) -> bool:
    """The rule, stated on its own: media or albums whose names are not hidden (also after NFKC folding),
    not temp files, and hold no control character but tab and no byte that is not UTF-8."""
    if not is_album and os.path.splitext(name)[1].lower() not in (".jpg", ".png"):
        return False
    hidden = unicodedata.normalize("NFKC", name).startswith(".")
    temp = name.lower().endswith(TEMP_SUFFIXES) or name.startswith(("~$", ".#"))
    broken = any(ch != "\t" and unicodedata.category(ch) in ("Cc", "Cs") for ch in name)
    return not (hidden or temp or broken)


def create(root: Path, name: str, is_album: bool, photo: bytes) -> Path | None:
    """The entry on disk, or None when this filesystem cannot hold the name (NUL, "/", too long, "." or "..")."""
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        return None
    target = root / name
    try:
        if is_album:
            target.mkdir()
            (target / "inside.jpg").write_bytes(photo)
        else:
            target.write_bytes(photo)
    except (OSError, ValueError):
        return None
    return target


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(examples=entries())
def test_what_is_listed_opens_and_what_does_not_open_is_not_listed(client, photos_dir, tmp_path, examples):
    photo = tmp_path / "one.jpg"
    if not photo.exists():
        images.jpeg(photo, (16, 12))
    made = [(name, is_album, where) for name, is_album in examples
            if (where := create(photos_dir, name, is_album, photo.read_bytes())) is not None]
    try:
        stamp = next(_counter)
        os.utime(photos_dir, (stamp, stamp))  # a new folder mtime, so browse rescans the root now
        items = listed(client, "")
        for name, is_album, _ in made:
            assert (name in items) == expected_listed(name, is_album), name
            if name in items:
                assert item_opens(client, items[name]) and opens(client, name, is_album), name
            else:
                assert not any(p == name or p.startswith(name + "/") for p in searched(client, name)), name
        assert set(items) <= {name for name, _, _ in made}
    finally:
        for _, is_album, where in made:
            shutil.rmtree(where) if is_album else where.unlink()
