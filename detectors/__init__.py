"""Rules that read the store and return gaps; the runner keeps their findings' lifecycle."""
