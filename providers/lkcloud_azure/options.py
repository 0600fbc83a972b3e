"""The Azure provider's own options (no SDK import: the CLI builds its flags from this table)."""

from __future__ import annotations

from pathlib import Path

from lkcloud.provider.options import ALL, LAUNCH, ProviderOption, ProviderOptions, Verb
from lkcloud_azure import settings as s

PUSH = frozenset({Verb.PUSH})

OPTIONS = ProviderOptions(instance_type_aliases=("--vm-size",), options=(
    ProviderOption("subscription", ("--subscription",), "subscription id (else AZURE_SUBSCRIPTION_ID)", verbs=ALL,
                   setting=s.SUBSCRIPTION),
    ProviderOption("resource_group", ("--resource-group", "-g"), "resource group", verbs=ALL,
                   setting=s.RESOURCE_GROUP),
    ProviderOption("location", ("--location", "-l"), "region", verbs=ALL, setting=s.LOCATION),
    ProviderOption("storage_account", ("--storage-account",), "storage account that receives the VHD", verbs=PUSH,
                   setting=s.STORAGE_ACCOUNT),
    ProviderOption("container", ("--container",), "blob container for the VHD", verbs=PUSH, setting=s.CONTAINER),
    ProviderOption("generation", ("--hyper-v-generation",), "V1 (BIOS) or V2 (UEFI) (default: from the boot mode)",
                   verbs=PUSH),
    ProviderOption("gallery", ("--gallery",), "Compute Gallery to publish a version to", verbs=PUSH,
                   setting=s.GALLERY),
    ProviderOption("image_definition", ("--image-definition",), "gallery image definition", verbs=PUSH),
    ProviderOption("version", ("--version",), "gallery image version MAJOR.MINOR.PATCH", verbs=PUSH),
    ProviderOption("replicate_to", ("--replicate-to",), "extra region for the gallery version (repeatable)",
                   verbs=PUSH, multiple=True),
    ProviderOption("tags", ("--tag",), "tag K=V (repeatable)", verbs=PUSH, multiple=True),
    ProviderOption("parent", ("--parent",), "blob to build the upload on (BLOB in --container), or none for a"
                   " full upload (default: the family's newest blob)", verbs=PUSH),
    ProviderOption("ssh_key", ("--ssh-key",), "OpenSSH public key file for the admin user", type=Path,
                   verbs=LAUNCH),
    ProviderOption("public_ip", ("--public-ip/--no-public-ip",), "give each VM a public IP (default: yes)", type=bool,
                   verbs=frozenset({Verb.RUN})),
    ProviderOption("allow_ports", ("--allow-port",), "inbound TCP port the NSG opens (repeatable; default: the"
                   " fleet's service port, templates/fleets.yml, and no other)", verbs=LAUNCH, multiple=True),
))
