"""Album management: moving albums to the trash and back, purging it, renaming albums (no Flask here)."""
