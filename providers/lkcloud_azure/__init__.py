"""lkcloud provider: azure."""
