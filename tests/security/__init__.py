"""lkcloud's threat model as tests: one module per direction hostile input comes from.

- ``test_layers``: OCI layers (names, PAX records, sizes, counts) and what reaches the outputs;
- ``test_registry``: registries (credentials, token realms, transport settings, sizes, stalls);
- ``test_sources``: a config's ``files: source:`` reaching into the host;
- ``test_qemu_images``: disk images that point QEMU at host files;
- ``test_faas``: HTTP clients of the FaaS worker's port;
- ``test_metadata``: user data reaching the in-VM metadata agent;
- ``test_cache``: concurrent processes and killed runs sharing one cache;
- ``test_outputs``: what lkcloud writes (user data modes, logs, package caches).
"""
