"""Business rules, background jobs and I/O. Nothing in this package imports Flask."""
