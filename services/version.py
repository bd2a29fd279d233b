"""The running Photonix version, from the installed package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("photonix")
except PackageNotFoundError:  # running from a checkout that was never installed
    VERSION = "0.0.0+unknown"
