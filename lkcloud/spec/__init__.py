"""The LinuxKit configuration format: loading, merging, validating, and the typed model."""
