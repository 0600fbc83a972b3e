"""Where a VHD is uploaded: the storage account, its region, and the credential Blob storage gets.

``AZURE_STORAGE_CONNECTION_STRING`` (Azurite, an account key, a SAS) wins. Otherwise the account
named by ``--storage-account`` is looked up in Resource Manager (its region, its blob endpoint).
Entra ID credentials reach blob data only through a data-plane role (Storage Blob Data
Contributor; Contributor has no data actions: "Authorize access to blobs using Microsoft Entra
ID", https://learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory);
an identity without it that may list the account's keys uploads with a key instead. A token from
``AZURE_ACCESS_TOKEN`` is for Resource Manager only and never goes to Blob storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lkcloud.errors import CredentialsError, LkcloudError, UsageError
from lkcloud_azure import settings as s
from lkcloud_azure.calls import DATA_ROLE, DataRoleMissing
from lkcloud_azure.clients import Api
from lkcloud_azure.image import doc

NO_ACCOUNT_HINT = ("pass --storage-account, put `storage-account` under [azure] in lkcloud.toml, "
                   f"or set {s.STORAGE_OVERRIDE}")


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    group: str
    location: str
    blob_endpoint: str


def _group_of(ident: str) -> str:
    parts = ident.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1]


def account(api: Api) -> Account:
    """The storage account ``--storage-account`` names: in the resource group, else anywhere in the
    subscription."""
    name = api.config.storage_account
    if not name:
        raise UsageError("no storage account to upload the VHD to", hint=NO_ACCOUNT_HINT)
    accounts = api.clients.storage.storage_accounts
    found = api.find(f"reading storage account {name}", accounts.get_properties, api.group, name)
    if found is None:
        listed = api.call("listing storage accounts", lambda: [doc(a) for a in accounts.list()])
        found = next((a for a in listed if str(a.get("name", "")).lower() == name.lower()), None)
        if found is None:
            raise UsageError(f"storage account {name!r} not found in subscription {api.config.subscription}",
                             hint=NO_ACCOUNT_HINT)
    body = doc(found)
    endpoint = body.get("properties", {}).get("primaryEndpoints", {}).get("blob") or \
        f"https://{name}.blob.core.windows.net/"
    return Account(str(body["id"]), str(body["name"]), _group_of(str(body["id"])), str(body.get("location", "")),
                   str(endpoint))


def check_region(api: Api, found: Account) -> None:
    """A managed image is made from a blob in its own region."""
    if found.location.replace(" ", "").lower() != api.config.location.lower():
        raise UsageError(f"storage account {found.name} is in {found.location}, the image would be in "
                         f"{api.config.location}",
                         hint=f"pass --location {found.location}, or a storage account in {api.config.location}")


def _key(api: Api, found: Account) -> str | None:
    """The account's first key, when the credentials may list keys; else None."""
    try:
        keys = doc(api.call(f"listing the keys of storage account {found.name}",
                            api.clients.storage.storage_accounts.list_keys, found.group, found.name))
    except CredentialsError:
        return None
    values = [k.get("value") for k in keys.get("keys", []) if k.get("value")]
    return str(values[0]) if values else None


def _no_data_access(found: Account, token_only: bool) -> CredentialsError:
    if token_only:
        return CredentialsError(f"cannot upload to storage account {found.name}: AZURE_ACCESS_TOKEN holds a Resource "
                                "Manager token, which Blob storage does not take, and these credentials may not "
                                "list the account's keys",
                                hint=f"set {s.STORAGE_OVERRIDE}, or use credentials (az login, a service principal) "
                                     f"with {DATA_ROLE} on the account")
    return CredentialsError(f"cannot upload to storage account {found.name}: the credentials have no data access "
                            "and may not list the account's keys",
                            hint=f"grant {DATA_ROLE} on the account (Contributor has no data actions), "
                                 f"or set {s.STORAGE_OVERRIDE}")


@dataclass
class Storage:
    """The blob service an upload writes to, checked once per push."""

    api: Api
    found: Account | None = None
    service: Any = None

    def open(self, check: bool = True) -> Any:
        """The blob service; with a named account, its region checked first (``check``)."""
        clients = self.api.clients
        if clients.connection_string:
            self.service = clients.blob_service()
            return self.service
        self.found = account(self.api)
        if check:
            check_region(self.api, self.found)
        if clients.arm_token_only:
            return self.with_key()
        self.service = clients.blob_service(self.found.blob_endpoint, clients.credential)
        return self.service

    def with_key(self) -> Any:
        """The service with the account key (after a data-plane refusal), or the error naming the role."""
        assert self.found is not None
        key = _key(self.api, self.found)
        if key is None:
            raise _no_data_access(self.found, self.api.clients.arm_token_only)
        self.service = self.api.clients.blob_service(self.found.blob_endpoint, {"account_name": self.found.name,
                                                                               "account_key": key})
        return self.service

    def retry_with_key(self, error: LkcloudError) -> bool:
        """Whether ``error`` is a data-plane refusal worth another go with the key."""
        return isinstance(error, DataRoleMissing) and self.found is not None and not self.api.clients.arm_token_only
