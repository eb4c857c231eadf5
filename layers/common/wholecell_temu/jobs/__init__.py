"""One module per job: orchestrates clients, store and domain rules for one connection."""
