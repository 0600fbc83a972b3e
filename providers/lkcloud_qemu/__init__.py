"""lkcloud provider: qemu."""
