"""Saving downloads: only verified images reach the gallery, under safe names, never overwriting, never partial."""

import errno
import io
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import GifImagePlugin, Image, ImageFile, JpegImagePlugin

from errors import DownloadFailed, ImageRejected, InvalidPath, PathForbidden
from services import paths
from services.downloads import store
from services.downloads.store import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    ImageLimits,
    SavedImage,
    clean_temp_files,
    commit,
    default_folder,
    discard,
    open_temp,
    safe_name,
    target_folder,
    verify_image,
)
from tests.support import images

LIMITS = ImageLimits()


@pytest.fixture
def root(tmp_path) -> Path:
    base = tmp_path / "photos"
    base.mkdir()
    return base.resolve()


@pytest.fixture
def folder(root) -> Path:
    return target_folder(root, "Downloads/Feed")[1]


def noise(path: Path, fmt: str, size=(120, 90)) -> Path:
    """An incompressible picture, so even small ones pass min_bytes."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)
    return path


def download(folder: Path, source: Path | bytes) -> Path:
    """What the downloader does: a temp file written through open_temp."""
    out, temp = open_temp(folder)
    with out:
        out.write(source if isinstance(source, bytes) else source.read_bytes())
    return temp


def reason(exc_info) -> str:
    return exc_info.value.extra["reason"]


@pytest.fixture
def no_decode(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("decoded although the header already decided")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- commit: formats, names, atomic publishing -------------------------------------------------

@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("GIF", ".gif"),
                                          ("BMP", ".bmp"), ("TIFF", ".tif")])
def test_real_images_are_saved_with_their_detected_extension(tmp_path, folder, fmt, ext):
    source = noise(tmp_path / "src" / "x", fmt)
    saved = commit(download(folder, source), "Downloads/Feed", folder, "photo", LIMITS)
    assert saved == SavedImage(f"Downloads/Feed/photo{ext}", fmt, 120, 90, source.stat().st_size)
    assert sorted(os.listdir(folder)) == [f"photo{ext}"]
    assert (folder / f"photo{ext}").read_bytes() == source.read_bytes()


def test_a_jpeg_named_png_is_saved_as_jpg(tmp_path, folder):
    source = images.jpeg(tmp_path / "src" / "looks.png")
    saved = commit(download(folder, source), "Downloads/Feed", folder, "looks.png", LIMITS)
    assert (saved.rel, saved.format) == ("Downloads/Feed/looks.jpg", "JPEG")
    assert os.listdir(folder) == ["looks.jpg"]


def test_animated_gif_keeps_its_frames(tmp_path, folder):
    source = images.gif_animation(tmp_path / "src" / "a.gif", frames=3)
    saved = commit(download(folder, source), "Downloads/Feed", folder, "anim", ImageLimits(min_bytes=1))
    assert (saved.format, saved.width, saved.height) == ("GIF", 120, 90)
    with Image.open(folder / "anim.gif") as image:
        assert image.n_frames == 3


def test_name_clashes_get_a_number_and_never_overwrite(tmp_path, folder):
    first, second = noise(tmp_path / "a.jpg", "JPEG"), noise(tmp_path / "b.jpg", "JPEG")
    (folder / "photo.jpg").write_bytes(first.read_bytes())
    third = noise(tmp_path / "c.jpg", "JPEG")
    for source, expected in ((second, "Downloads/Feed/photo-2.jpg"), (third, "Downloads/Feed/photo-3.jpg")):
        assert commit(download(folder, source), "Downloads/Feed", folder, "photo", LIMITS).rel == expected
    assert (folder / "photo.jpg").read_bytes() == first.read_bytes()
    assert sorted(os.listdir(folder)) == ["photo-2.jpg", "photo-3.jpg", "photo.jpg"]


@pytest.mark.parametrize("hard_links", [True, False])
def test_the_same_bytes_under_the_name_are_that_file_not_a_copy(tmp_path, folder, monkeypatch, hard_links):
    """A run killed after publishing an image but before recording it downloads it again: the file already there
    with the same bytes is the saved one (no "photo-2.jpg" copy); one with other bytes is kept and skipped."""
    if not hard_links:
        monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EPERM, "no links")))
    other, picture = noise(tmp_path / "o.jpg", "JPEG"), noise(tmp_path / "p.jpg", "JPEG")
    (folder / "photo.jpg").write_bytes(other.read_bytes())
    (folder / "photo-2.jpg").write_bytes(picture.read_bytes())
    before = (folder / "photo-2.jpg").stat()
    saved = commit(download(folder, picture), "Downloads/Feed", folder, "photo", LIMITS)
    assert saved.rel == "Downloads/Feed/photo-2.jpg" and saved.size == before.st_size
    assert sorted(os.listdir(folder)) == ["photo-2.jpg", "photo.jpg"]  # no copy, no temp file left
    assert (folder / "photo.jpg").read_bytes() == other.read_bytes()
    assert (folder / "photo-2.jpg").stat().st_ino == before.st_ino


def test_without_hard_links_rename_is_used_and_still_never_overwrites(tmp_path, folder, monkeypatch):
    def no_link(src, dst, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    (folder / "photo.jpg").write_bytes(b"keep me")
    saved = commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "photo", LIMITS)
    assert saved.rel == "Downloads/Feed/photo-2.jpg"
    assert (folder / "photo.jpg").read_bytes() == b"keep me"
    assert sorted(os.listdir(folder)) == ["photo-2.jpg", "photo.jpg"]


def test_commit_at_the_gallery_root_and_with_an_unsafe_base_name(tmp_path, root):
    saved = commit(download(root, noise(tmp_path / "n.png", "PNG")), "", root, "../../etc/passwd", LIMITS)
    assert saved.rel == "etc-passwd.png" and (root / "etc-passwd.png").is_file()


def test_commit_checks_and_syncs_on_the_cpu_pool(tmp_path, folder, monkeypatch):
    """The decode and the fsyncs all happen in one hop to the native pool, never on the gevent hub."""
    calls = []
    on_pool = []
    real_verify = store.verify_image

    def run_cpu(fn, *args):
        calls.append(fn)
        on_pool.append(True)
        try:
            return fn(*args)
        finally:
            on_pool.pop()

    def verify(*args):
        assert on_pool, "verify_image ran outside the pool"
        return real_verify(*args)

    monkeypatch.setattr(store.cpu, "run_cpu", run_cpu)
    monkeypatch.setattr(store, "verify_image", verify)
    commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "x", LIMITS)
    assert calls == [store._commit]


def test_commit_syncs_data_then_folder(tmp_path, folder, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)) or real(fd))
    commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "x", LIMITS)
    assert synced == [False, True]


# --- commit: failures leave nothing behind -------------------------------------------------------

@pytest.mark.parametrize("content", [
    b"<!DOCTYPE html><html><head><title>Not found</title></head><body>" + b"<p>nope</p>" * 200 + b"</body></html>",
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
    + b"<rect width='10' height='10'/>" * 100 + b"</svg>",
    b"plain text, not a picture\n" * 100,
    "zip",
], ids=["html", "svg", "text", "zip"])
def test_non_images_named_jpg_are_rejected_and_nothing_stays(folder, content):
    if content == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.jpg", os.urandom(4000))
        content = buffer.getvalue()
    temp = download(folder, content)
    with pytest.raises(ImageRejected) as caught:
        commit(temp, "Downloads/Feed", folder, "photo.jpg", LIMITS)
    assert reason(caught) == "not-an-image"
    assert os.listdir(folder) == []


def test_a_failure_while_publishing_removes_the_temp_file(tmp_path, folder, monkeypatch):
    def broken_link(src, dst, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", broken_link)
    with pytest.raises(OSError, match="Input/output"):
        commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "x", LIMITS)
    assert os.listdir(folder) == []


def test_a_failed_folder_sync_unpublishes_the_file(tmp_path, folder, monkeypatch):
    real = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError):
        commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "x", LIMITS)
    assert os.listdir(folder) == []


def test_too_many_clashes_give_up(tmp_path, folder, monkeypatch):
    monkeypatch.setattr(store, "MAX_CLASH_SUFFIX", 3)
    for name in ("x.jpg", "x-2.jpg", "x-3.jpg"):
        (folder / name).write_bytes(b"taken")
    with pytest.raises(DownloadFailed):
        commit(download(folder, noise(tmp_path / "n.jpg", "JPEG")), "Downloads/Feed", folder, "x", LIMITS)
    assert sorted(os.listdir(folder)) == ["x-2.jpg", "x-3.jpg", "x.jpg"]


# --- verify_image --------------------------------------------------------------------------------

def test_too_few_bytes(tmp_path, no_decode):
    path = images.png(tmp_path / "small.png", (10, 10))
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, LIMITS)
    assert reason(caught) == "too-small-bytes"


def test_too_small_dimensions_are_judged_without_decoding(tmp_path, no_decode):
    path = noise(tmp_path / "tiny.png", "PNG", (40, 30))
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, ImageLimits(min_bytes=1))
    assert reason(caught) == "too-small-dimensions"


@pytest.mark.parametrize("global_limit", [None, Image.MAX_IMAGE_PIXELS], ids=["own-check", "pillow-bomb-check"])
def test_a_header_claiming_too_many_pixels_is_rejected_without_decoding(tmp_path, monkeypatch, no_decode,
                                                                         global_limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", global_limit)
    path = images.png_bomb(tmp_path / "bomb.png", 100_000, 100_000)
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, ImageLimits(min_bytes=1))
    assert reason(caught) == "too-many-pixels"
    assert time.perf_counter() - started < 0.5


def test_max_pixels_is_ours_to_set(tmp_path, no_decode):
    path = noise(tmp_path / "a.png", "PNG", (200, 100))
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, ImageLimits(max_pixels=19_999))
    assert reason(caught) == "too-many-pixels"


def test_truncated_jpeg_is_corrupt(tmp_path):
    with pytest.raises(ImageRejected) as caught:
        verify_image(images.truncated_jpeg(tmp_path / "t.jpg"), LIMITS)
    assert reason(caught) == "corrupt"


def test_truncated_png_is_corrupt(tmp_path):
    path = noise(tmp_path / "a.png", "PNG", (200, 200))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, LIMITS)
    assert reason(caught) == "corrupt"


def test_formats_outside_the_list_are_refused(tmp_path):
    path = tmp_path / "icon.jpg"
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(path, "ICO", sizes=[(64, 64)])
    with pytest.raises(ImageRejected) as caught:
        verify_image(path, LIMITS)
    assert reason(caught) == "format-not-allowed"


def test_jpeg_is_checked_with_a_one_eighth_draft(tmp_path, monkeypatch):
    requested = []
    real = JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft",
                        lambda self, mode, size: requested.append(size) or real(self, mode, size))
    assert verify_image(images.jpeg(tmp_path / "a.jpg", (1600, 1200)), LIMITS) == ("JPEG", 1600, 1200)
    assert requested == [(200, 150)]


def test_a_gif_of_10000_frames_is_checked_by_its_first_frame(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    Image.new("P", (64, 64), 0).save(buffer, "GIF")
    data = buffer.getvalue()
    start = data.index(b"\x2c\x00\x00\x00\x00")  # the image descriptor of the only frame
    path = tmp_path / "many.gif"
    path.write_bytes(data[:start] + data[start:-1] * 10_000 + b";")
    frames = []
    real = GifImagePlugin.GifImageFile._seek
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_seek",
                        lambda self, frame, *args: frames.append(frame) or real(self, frame, *args))
    started = time.perf_counter()
    assert verify_image(path, LIMITS) == ("GIF", 64, 64)
    assert time.perf_counter() - started < 0.5
    assert set(frames) == {0}


def test_exif_orientation_6_swaps_width_and_height(tmp_path):
    path = images.jpeg(tmp_path / "rotated.jpg", (640, 480), orientation=6)
    assert verify_image(path, LIMITS) == ("JPEG", 480, 640)
    assert verify_image(images.jpeg(tmp_path / "plain.jpg", (640, 480), orientation=1), LIMITS) == ("JPEG", 640, 480)


# --- names and folders ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("../../etc/passwd", "etc-passwd"),
    ("CON", "CON_"),
    ("nul.txt", "nul_.txt"),
    ("COM1", "COM1_"),
    ("CONSOLE", "CONSOLE"),
    ("", "image"),
    ("  .hidden", "hidden"),
    ("a/b\\c:d*e?f\"g<h>i|j", "a-b-c-d-e-f-g-h-i-j"),
    ("a\x00b", "a-b"),
    ("tab\there\n\nnew   line", "tab here new line"),
    ("Title...  ", "Title"),
    ("--- a --- b ---", "a - b -"),
    ("%2e%2e%2fetc", "2e%2e%2fetc"),
    ("．．hidden", "hidden"),
    ("draft.part", "draft.part_"),
    ("~$lock", "$lock"),
    ("e\u0301te\u0301", "\u00e9t\u00e9"),  # NFC
    ("photo\u202egpj.exe", "photo-gpj.exe"),
    ("東京の夜景 2024", "東京の夜景 2024"),
    ("...", "image"),
])
def test_safe_name(text, expected):
    assert safe_name(text) == expected


def test_safe_name_cuts_long_cjk_on_a_character_boundary():
    title = "夜景写真" * 25  # 300 bytes of UTF-8
    name = safe_name(title)
    assert len(name.encode()) == 120 and name == title[:40]
    assert safe_name(title, max_bytes=10) == "夜景写"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_safe_name_always_gives_a_listed_gallery_name(text):
    name = safe_name(text)
    assert name and len(name.encode("utf-8")) <= store.MAX_NAME_BYTES
    assert paths.normalise(name) == name and paths.is_listed(name)
    assert name.split(".")[0].upper() not in store.WINDOWS_RESERVED


def test_default_folder():
    assert default_folder("My Feed / Photos") == "Downloads/My Feed - Photos"
    assert default_folder("") == default_folder("   ") == default_folder("...") == "Downloads/Feed"


def test_target_folder_creates_missing_levels(root):
    assert target_folder(root, "Downloads/中文 feed/") == ("Downloads/中文 feed", root / "Downloads" / "中文 feed")
    assert (root / "Downloads" / "中文 feed").is_dir()
    assert target_folder(root, "") == ("", root)


def test_target_folder_takes_a_drive_letter_as_a_plain_name(root):
    # "C:" is an ordinary folder name on the server's POSIX filesystem, as it is for browse.
    assert target_folder(root, "C:/x") == ("C:/x", root / "C:" / "x")


def test_target_folder_follows_symlinks_that_stay_inside(root):
    (root / "albums").mkdir()
    os.symlink(root / "albums", root / "link")
    assert target_folder(root, "link/new") == ("link/new", root / "albums" / "new")


@pytest.mark.parametrize("rel", ["../x", "/etc", "a/../../x", ".hidden/x", "a\\b"])
def test_target_folder_refuses_bad_paths(root, rel):
    with pytest.raises(InvalidPath):
        target_folder(root, rel)
    assert os.listdir(root) == []


def test_target_folder_refuses_symlinks_leaving_the_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "escape")
    os.symlink(tmp_path / "missing", root / "dangling")
    with pytest.raises(PathForbidden):
        target_folder(root, "escape/sub")
    with pytest.raises(PathForbidden):
        target_folder(root, "dangling")
    assert os.listdir(outside) == [] and not (tmp_path / "missing").exists()


def test_target_folder_refuses_a_file_in_the_way(root):
    (root / "taken").write_bytes(b"x")
    with pytest.raises(InvalidPath):
        target_folder(root, "taken/sub")


# --- temp files ----------------------------------------------------------------------------------

def test_open_temp_makes_a_hidden_exclusive_file(folder, monkeypatch):
    out, temp = open_temp(folder)
    with out:
        out.write(b"data")
    assert temp.parent == folder and temp.name.startswith(TEMP_PREFIX) and temp.name.endswith(TEMP_SUFFIX)
    assert not paths.is_listed(temp.name) and temp.read_bytes() == b"data"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(temp.stat().st_mode) == 0o644 & ~umask
    fixed = store.uuid.UUID(int=7)
    monkeypatch.setattr(store.uuid, "uuid4", lambda: fixed)
    open_temp(folder)[0].close()
    with pytest.raises(FileExistsError):
        open_temp(folder)


def test_discard_ignores_missing_files(folder):
    temp = download(folder, b"x")
    discard(temp)
    discard(temp)
    assert os.listdir(folder) == []


def test_clean_temp_files(folder):
    stale = [download(folder, b"x") for _ in range(3)]
    (folder / "photo.jpg").write_bytes(b"keep")
    (folder / "notes.part").write_bytes(b"keep: not ours")
    (folder / f"{TEMP_PREFIX}dir{TEMP_SUFFIX}").mkdir()
    (folder / "sub").mkdir()
    nested = download(folder / "sub", b"x")
    old = time.time() - 3600
    for path in stale[:2]:
        os.utime(path, (old, old))
    assert clean_temp_files(folder, older_than_s=600) == 2
    assert stale[2].exists()
    assert clean_temp_files(folder) == 1
    assert sorted(os.listdir(folder)) == [f"{TEMP_PREFIX}dir{TEMP_SUFFIX}", "notes.part", "photo.jpg", "sub"]
    assert nested.exists()  # only directly in the folder
    assert clean_temp_files(folder / "gone") == 0
