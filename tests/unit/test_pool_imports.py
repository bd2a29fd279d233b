"""Nothing imports a module on a CPU pool thread.

Pillow imports its plugins on first use, and xml.sax its parser on first parse. Under gunicorn's gevent worker the
import locks are gevent's (monkey-patching replaces _thread.allocate_lock), and a native pool thread that waits on
one can wait for ever: two first thumbnails at once in a new worker hung until the request gave up (seen in the
browser tests beside a CPU hog). So the app imports all of it on the main thread when it is made.

Checked in a fresh interpreter: this test process has long imported everything through other tests.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import ROOT

SCRIPT = r"""
import sys
from pathlib import Path

from config import load_config
from services.gallery.thumbs import make_thumbnailer
from tests.support import images

folder = Path(sys.argv[1]) / "photos"
folder.mkdir()
samples = [images.jpeg(folder / "a.jpg", (480, 360)), images.png(folder / "b.png", (300, 200)),
           images.gif_animation(folder / "c.gif"), images.png_alpha(folder / "d.png")]
config = load_config({"PHOTONIX_PHOTOS_DIR": str(folder), "PHOTONIX_DATA_DIR": str(folder.parent / "data"),
                      "PHOTONIX_JWT_SECRET": "k3J9-q8Zt2VwX5mN7pR4sL6yB1cD0fGh-test-only"})
make_thumbnailer(config)  # what create_app does, on the main thread

from services import thumbnails
from services.downloads import feeds, store

before = set(sys.modules)
for sample in samples:  # what the pool threads run
    thumbnails._make_file(sample, folder / (sample.name + ".webp"), (500, 1500), 10**8, 10**9, thumbnails.PHOTO_FORMATS,
                          allowed_bytes=10**9)
    store.verify_image(sample, store.ImageLimits(min_bytes=1, min_width=1, min_height=1))
feeds.parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
                 b'<link>http://example.com/b</link></item></channel></rss>', "http://example.com/feed",
                 "application/rss+xml")
print(sorted(set(sys.modules) - before))
"""


def test_pool_thread_work_imports_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", "imported on a pool thread: " + done.stdout
