"""lkcloud: LinuxKit for the clouds."""

__version__ = "0.1.0"
