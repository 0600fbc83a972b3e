"""lkcloud provider: aws."""
