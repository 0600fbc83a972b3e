"""The GCP provider's own options (no SDK import: the CLI builds its flags from this table)."""

from __future__ import annotations

from lkcloud.provider.options import ALL, FLEET, LAUNCH, ProviderOption, ProviderOptions, Verb
from lkcloud_gcp import settings as s

PUSH = frozenset({Verb.PUSH})
RUN = frozenset({Verb.RUN})

OPTIONS = ProviderOptions(instance_type_aliases=("--machine-type",), options=(
    ProviderOption("project", ("--project",), "GCP project (else CLOUDSDK_CORE_PROJECT, the ADC project)",
                   verbs=ALL, setting=s.PROJECT),
    ProviderOption("zone", ("--zone",), "zone for instances", verbs=RUN, setting=s.ZONE),
    ProviderOption("region", ("--region",), "region of the fleet (default: the zone's)", verbs=FLEET,
                   setting=s.REGION),
    ProviderOption("bucket", ("--bucket",), "Cloud Storage bucket the image archive is uploaded to", verbs=PUSH,
                   setting=s.BUCKET),
    ProviderOption("storage_location", ("--storage-location",), "where image data is stored", verbs=PUSH,
                   setting=s.STORAGE_LOCATION),
    ProviderOption("guest_os_features", ("--guest-os-feature",), "extra guest OS feature (repeatable)", verbs=PUSH,
                   multiple=True),
    ProviderOption("labels", ("--label",), "image label K=V (repeatable)", verbs=PUSH, multiple=True),
    ProviderOption("replace", ("--replace",), "delete an existing image of that name first", type=bool,
                   verbs=PUSH),
    ProviderOption("keep_upload", ("--keep-upload",), "keep the uploaded archive in the bucket", type=bool,
                   verbs=PUSH),
    ProviderOption("wait_for", ("--wait-for",), "with --console: read the serial console until this regex matches",
                   verbs=RUN, setting=s.CONSOLE_MARKER),
    ProviderOption("console_timeout", ("--console-timeout",), "with --console: seconds to wait for --wait-for",
                   type=float, verbs=RUN, setting=s.CONSOLE_TIMEOUT),
    ProviderOption("shielded", ("--shielded",), "Shielded VM: vTPM, and secure boot where the image allows",
                   type=bool, verbs=LAUNCH),
))
