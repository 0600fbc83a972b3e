"""OCI images: references, the registry client, the OCI-layout cache, safe layer unpacking."""
