"""A provider's own options, as a table the core turns into command-line flags.

Every provider shares one vocabulary for what they have in common (``--size``, ``--instance-type``,
``--canary``, ``--arch``, ``--data``...); what only one cloud has (``--region``, ``--bucket``,
``--resource-group``) it declares here, once, with the verbs it applies to. The table lives in an
SDK-free module, so ``lkcloud --help`` imports no cloud SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lkcloud.settings import Setting


class Verb(StrEnum):
    PUSH = "push"
    RUN = "run"
    CREATE = "fleet create"
    STATUS = "fleet status"
    SCALE = "fleet scale"
    REFRESH = "fleet refresh"
    DELETE = "fleet delete"
    LIST = "images list"
    PRUNE = "images prune"


ALL = frozenset(Verb)
FLEET = frozenset({Verb.CREATE, Verb.STATUS, Verb.SCALE, Verb.REFRESH, Verb.DELETE})
IMAGES = frozenset({Verb.LIST, Verb.PRUNE})
LAUNCH = frozenset({Verb.RUN, Verb.CREATE})  # verbs that start machines


@dataclass(frozen=True)
class ProviderOption:
    """One flag: ``name`` is the keyword the provider's ``from_settings`` receives (None when
    the flag is not given); ``setting`` is where its default comes from (shown in --help)."""

    name: str
    flags: tuple[str, ...]
    help: str
    type: Any = str  # str, int, float, bool (an on/off flag), pathlib.Path, or a StrEnum
    verbs: frozenset[Verb] = ALL
    multiple: bool = False  # repeatable
    comma_list: bool = True  # with multiple: "a,b" is two values
    setting: Setting | None = None


@dataclass(frozen=True)
class ProviderOptions:
    """A provider's option table, and the cloud's own words for shared options."""

    options: tuple[ProviderOption, ...] = ()
    instance_type_aliases: tuple[str, ...] = ()  # e.g. --machine-type, --vm-size
    verbs: frozenset[Verb] = ALL  # the verbs the provider supports

    def for_verb(self, verb: Verb) -> tuple[ProviderOption, ...]:
        return tuple(option for option in self.options if verb in option.verbs)
