"""User data: LinuxKit's ``/run/config`` contract (:mod:`~lkcloud.userdata.tree`: parse, check,
encode, render, the clouds' size limits) and how ``lkcloud metadata create`` composes it from
arguments or a YAML tree (:mod:`~lkcloud.userdata.compose`)."""
