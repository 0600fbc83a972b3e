"""LinuxKit's root filesystem: image layout, OCI bundles (config.json, runtime.json), files.

    job = Assembly(images=StoreImages(store, arch="amd64"))
    assemble(config, job, sink.add)   # entries in LinuxKit's stream order
"""

from lkcloud.assemble.rootfs import Assembly, assemble, entries

__all__ = ["Assembly", "assemble", "entries"]
