"""Opening an image file with Pillow, the same way everywhere (index, thumbnails, downloads).

Every caller compares the pixel count with PHOTONIX_MAX_IMAGE_PIXELS itself, from the header and before
any decoding, so Pillow's DecompressionBombWarning (above its MAX_IMAGE_PIXELS) would only be noise in
the log. Pillow still raises DecompressionBombError above twice its limit.
"""

from __future__ import annotations

import warnings
from typing import IO

from PIL import Image


def open_header(fp: str | bytes | IO[bytes], formats: tuple[str, ...] | None = None) -> Image.Image:
    """Image.open (reads the header only) without the DecompressionBombWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(fp, formats=formats)
