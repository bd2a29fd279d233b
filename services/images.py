"""Opening an image file with Pillow, the same way everywhere (index, thumbnails, downloads).

Every caller compares the pixel count with PHOTONIX_MAX_IMAGE_PIXELS itself, from the header and before
any decoding, so Pillow's DecompressionBombWarning (above its MAX_IMAGE_PIXELS) would only be noise in
the log. Pillow still raises DecompressionBombError above twice its limit.
"""

from __future__ import annotations

import functools
import io
import warnings
from typing import IO

from PIL import Image

HEIC_SUFFIXES = (".heic", ".heif")  # read through pillow-heif when it is installed


def open_header(fp: str | bytes | IO[bytes], formats: tuple[str, ...] | None = None) -> Image.Image:
    """Image.open (reads the header only) without the DecompressionBombWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(fp, formats=formats)


def load_plugins() -> None:
    """Import every Pillow plugin now, on this thread (the main one, when the app is made).

    Pillow imports them on first use, which would be on a CPU pool thread. Under gevent's monkey-patching the
    import locks are gevent's, and a native thread that waits on one may wait for ever: two first thumbnails
    at once in a new worker hung until the request gave up. Encoding a pixel to WebP loads the encoder too.
    """
    Image.init()
    Image.new("RGB", (1, 1)).save(io.BytesIO(), "WEBP")
    heic_supported()


@functools.cache
def heic_supported() -> bool:
    """Whether HEIC/HEIF photos can be read (the optional pillow-heif package), its opener registered."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True
