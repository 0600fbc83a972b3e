"""Local fleets: N detached VMs of one image, refreshed one VM at a time like a cloud rolling update."""
