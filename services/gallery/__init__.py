"""The gallery: the index of folders and media (index.py), filesystem listing (scanner.py), and the
queries visitors run (browse.py)."""
