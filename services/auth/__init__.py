"""Authentication rules: passwords, lockout, auth state and access decisions. No Flask here."""
