"""HTTP handlers grouped by area; each module exposes ``routes``."""
