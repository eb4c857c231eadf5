"""Admin API: connections, settings, job runs (and, as they land, listings and diagnosis)."""
