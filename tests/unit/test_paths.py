"""The path-safety function: every refusal has its code, and no input ever leads outside the root."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errors import AppError, InvalidPath, NotFound, PathForbidden
from services.paths import MAX_DEPTH, MAX_PATH_CHARS, is_listed, media_kind, name_problem, normalise, resolve


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "photos"
    (base / "album" / "sub").mkdir(parents=True)
    (base / "album" / "a.jpg").write_bytes(b"x")
    (base / "中文").mkdir()
    (base / ".hidden").mkdir()
    (base / ".hidden" / "secret.jpg").write_bytes(b"x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "o.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "outside", base / "escape")
    os.symlink(base / "album", base / "inside-link")
    os.symlink(base / ".hidden", base / "to-hidden")
    os.symlink(base / "loop-a", base / "loop-b")
    os.symlink(base / "loop-b", base / "loop-a")
    return base.resolve()


def test_good_paths(root):
    assert resolve(root, "").rel == "" and resolve(root, "").real == root
    assert resolve(root, "album/a.jpg").real == root / "album" / "a.jpg"
    assert resolve(root, "album/sub/").rel == "album/sub"
    assert resolve(root, "中文").real == root / "中文"
    assert resolve(root, "inside-link/a.jpg").real == root / "album" / "a.jpg"


@pytest.mark.parametrize("raw", [
    "..", "../x", "album/../..", "album/./a.jpg", ".", "．．", "album/．", "/etc/passwd", "a//b", ".env",
    "album/.git", ".photonix.db", "..\\x", "a\x00b", "a\nb", "a\rb", "a\x7fb", "a\x85b", "x" * 2049,
    "/".join(["d"] * 33), "n" * 256, "\ud800", "album/\udcff.jpg",
])
def test_invalid_paths_are_400(root, raw):
    with pytest.raises(InvalidPath):
        resolve(root, raw)


@pytest.mark.parametrize("raw", ["B: Trip", "C:/Windows", "c:", "\\\\server\\share", "album\\..\\x", "a\tb",
                                 "%2e%2e", "%2E%2e/x", "%252e%252e", "%2e%2e.jpg", "%2ehidden-not.jpg", "%00"])
def test_posix_names_taken_literally_are_not_refused(root, raw):
    """Decoded once (by werkzeug) and POSIX: drive letters, backslashes, tabs and %xx are characters."""
    assert normalise(raw) == raw
    with pytest.raises(NotFound):
        resolve(root, raw)


def test_symlinks_leaving_the_root_or_into_hidden_folders_are_403(root):
    for raw in ("escape", "escape/o.jpg", "to-hidden/secret.jpg"):
        with pytest.raises(PathForbidden):
            resolve(root, raw)


def test_a_link_into_a_folder_hidden_by_a_fullwidth_dot_is_403(root):
    """A folder named "．secret" is hidden (the same rule as for names in a path), also behind a link."""
    (root / "．secret").mkdir()
    os.symlink(root / "．secret", root / "peek")
    with pytest.raises(PathForbidden):
        resolve(root, "peek")


def test_missing_paths_and_loops_are_404(root):
    for raw in ("nothing", "album/none.jpg", "loop-a", "loop-a/x", "album/a.jpg/child"):
        with pytest.raises(NotFound):
            resolve(root, raw)


def test_names_the_gallery_shows():
    assert media_kind("IMG_1.JPG") == "photo" and media_kind("clip.MoV") == "video"
    assert media_kind("notes.txt") is None and media_kind("archive.jpg.zip") is None
    assert is_listed("photo.jpg") and is_listed("中文")
    for name in (".DS_Store", "x.jpg.part", "x.crdownload", "~$doc", ".#lock", "x.tmp", "backup~"):
        assert not is_listed(name)


def test_listed_names_are_exactly_the_names_a_path_may_hold():
    for name in ("B: Trip", "back\\slash.jpg", "tab\there.jpg", "%2e%2e.jpg", "%2ehidden-not.jpg", "a\u202eb"):
        assert is_listed(name) and name_problem(name) is None
    for name in ("．env", "\u2026x.jpg", "a\nb.jpg", "a\x7f.jpg", "\udcff.jpg", "n" * 256, "..", ""):
        assert not is_listed(name) and name_problem(name)
    deep = "/".join(["d"] * (MAX_DEPTH - 1))
    assert is_listed("x.jpg", deep) and not is_listed("x.jpg", deep + "/d")  # 33 levels would not open
    long = "/".join(["n" * 200] * 10)
    assert is_listed("x" * (MAX_PATH_CHARS - len(long) - 1), long)
    assert not is_listed("x" * (MAX_PATH_CHARS - len(long)), long)


def test_normalise_keeps_the_text():
    assert normalise("a/b c/d.jpg/") == "a/b c/d.jpg"
    assert normalise("100%/x") == "100%/x"  # a literal percent sign is a valid name


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["..", ".", "album", "sub", "escape", "inside-link", "a.jpg", "%2e%2e",
                                          "", "to-hidden", "loop-a", "中文", "\\", "/", ":", "C:", "\t"]),
                          st.text(max_size=12)), max_size=8))
def test_any_input_is_refused_or_inside_the_root(root, parts):
    raw = "/".join(parts)
    try:
        found = resolve(root, raw)
    except AppError as error:
        assert isinstance(error, (InvalidPath, NotFound, PathForbidden))
        return
    assert found.real == root or root in found.real.parents
    assert not any(part.startswith(".") for part in found.real.relative_to(root).parts)
