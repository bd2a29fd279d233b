"""Where the files Photonix ships beside its code are: templates/, static/, nginx/, deploy/, gunicorn.conf.py.

Found through this package's own location, never through the working directory: an installed wheel
carries them in services/shipped/ (setup.py's build step puts them there); a checkout or an editable
install has them at the top of the checkout, next to app.py.
"""

from __future__ import annotations

from pathlib import Path

_INSTALLED = Path(__file__).resolve().with_name("shipped")
_CHECKOUT = Path(__file__).resolve().parents[1]


def root() -> Path:
    """The absolute folder that holds the shipped files."""
    return _INSTALLED if _INSTALLED.is_dir() else _CHECKOUT


def path(name: str) -> Path:
    """The absolute path of one shipped file or folder, e.g. path("static") or path("gunicorn.conf.py")."""
    return root() / name
