"""lkcloud provider: gcp."""
