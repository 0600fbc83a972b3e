"""Azure credentials and the subscription, resolved the way Azure's own tools do.

A bearer token in ``AZURE_ACCESS_TOKEN`` is used as is (CI jobs that already hold one, and the
tests); otherwise ``DefaultAzureCredential`` (environment, workload identity, managed identity,
the Azure CLI...). A token is requested once up front, so missing credentials are one clear
error before any API call rather than a failure in the middle of a push.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from lkcloud.errors import CredentialsError, UsageError
from lkcloud.settings import Settings
from lkcloud_azure import settings as azure_settings

TOKEN_ENV = "AZURE_ACCESS_TOKEN"
SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
CREDENTIALS_HINT = ("run `az login`, set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
                    "or put a bearer token in AZURE_ACCESS_TOKEN")
_STATIC_LIFETIME = 3600


class StaticToken:
    """A TokenCredential that hands out one bearer token it was given."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + _STATIC_LIFETIME)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + _STATIC_LIFETIME)

    def close(self) -> None:
        pass


def credential(env: Mapping[str, str], scope: str) -> Any:
    """A TokenCredential that has already produced a token for ``scope``."""
    from azure.core.exceptions import ClientAuthenticationError

    token = env.get(TOKEN_ENV)
    if token:
        return StaticToken(token)
    from azure.identity import DefaultAzureCredential

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("azure.identity").setLevel(logging.ERROR)  # one clear error below, not a wall of text
    found = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    try:
        found.get_token(scope)
    except ClientAuthenticationError as exc:
        raise CredentialsError("no Azure credentials found", hint=CREDENTIALS_HINT) from exc
    return found


def subscription(flag: str | None, settings: Settings, env: Mapping[str, str]) -> str:
    """--subscription, then AZURE_SUBSCRIPTION_ID, then LKCLOUD_AZURE_SUBSCRIPTION or lkcloud.toml."""
    value, source = settings.resolve(azure_settings.SUBSCRIPTION, flag)
    found = value if source == "flag" else env.get(SUBSCRIPTION_ENV) or value
    if not found:
        raise UsageError("no Azure subscription given",
                         hint="pass --subscription, set AZURE_SUBSCRIPTION_ID, "
                              "or put `subscription` under [azure] in lkcloud.toml")
    return str(found)
