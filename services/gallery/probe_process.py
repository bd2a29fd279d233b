"""A header-reading process for the index (probe_pool.py starts it): one JSON line per request on stdin,
`{"folder": "<absolute path>", "files": [["<name>", "photo" | "video"], …]}`, answered by one JSON line on stdout
holding a probe per file in the same order, `[mime, width, height, [<PhotoMeta fields>]]`. Ends when stdin closes.

Reading headers is Python (Pillow's EXIF parsing) held to one core by the GIL; processes of their own read them
side by side. This imports the scanner and Pillow only: no database, no network, nothing of the server.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from services.gallery import scanner


def encode(found: scanner.Probe) -> list:
    return [found.mime, found.width, found.height, list(dataclasses.astuple(found.details))]


def main() -> None:
    for line in sys.stdin.buffer:
        request = json.loads(line)
        folder = Path(request["folder"])
        answer = [encode(scanner.probe(folder / name, kind)) for name, kind in request["files"]]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
