"""Large single-colour PNGs made without ever holding their pixels: a 14000x14000 RGBA file of ~790 KB in
well under a second (what a hostile feed can serve).

The pixel rows are deflated once per block of rows, ended with a full flush so that the block's bytes are
self-contained, and the same bytes are repeated; only the zlib checksum is computed over every row.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # mode: (PNG colour type, samples per pixel)
ROWS_PER_BLOCK = 64
ZLIB_HEADER_BYTES = 2
EMPTY_FINAL_BLOCK = b"\x03\x00"  # a final fixed-Huffman deflate block holding no data


def flat_png(path: Path, size: tuple[int, int], mode: str = "RGBA", bits: int = 8, value: int = 120) -> Path:
    """Write a `size` PNG of `mode` ("L", "RGB" or "RGBA") with `bits` (8 or 16) per sample, every byte of
    every sample `value`; parents are created and the path is returned."""
    width, height = size
    colour_type, samples = COLOUR_TYPES[mode]
    row = b"\x00" + bytes([value]) * (width * samples * bits // 8)  # filter "none", then the samples
    whole, rest = divmod(height, ROWS_PER_BLOCK)
    stream, checksum = [], 1
    for rows, repeats in ((ROWS_PER_BLOCK, whole), (rest, 1)):
        if rows and repeats:
            block = row * rows
            packer = zlib.compressobj(9)
            stream.append((packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH))[ZLIB_HEADER_BYTES:] * repeats)
            for _ in range(repeats):
                checksum = zlib.adler32(block, checksum)
    data = b"\x78\xda" + b"".join(stream) + EMPTY_FINAL_BLOCK + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
