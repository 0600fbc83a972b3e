"""The error hierarchy: the library raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class LkcloudError(Exception):
    """Base of every error lkcloud reports to a person.

    ``message`` is one line saying what went wrong; ``hint`` (optional) says what to do about it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(LkcloudError):
    """Bad input from the user: a flag, an argument, a file's content (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file (LinuxKit YAML, fleet.yml, lkcloud.toml) is invalid.

    ``problems`` holds every problem found, each one line naming file, line and key path.
    """

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid configuration"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more, hint=hint)


class ToolMissingError(LkcloudError):
    """An external program lkcloud needs is not installed."""


class ToolFailedError(LkcloudError):
    """An external program exited non-zero; the message carries the tail of its stderr."""


class RegistryError(LkcloudError):
    """A container registry refused, failed, or served something wrong."""


class DigestMismatchError(LkcloudError):
    """Content did not match the digest it was addressed by."""


class ImageNotFoundError(LkcloudError):
    """An image is neither in the cache nor (when pulling is allowed) in its registry."""


class BuildError(LkcloudError):
    """Assembling the OS or writing an output format failed."""


class ProviderError(LkcloudError):
    """A cloud or local provider operation failed."""


class ProviderUnavailableError(UsageError):
    """The provider is unknown, or its optional dependencies are not installed."""


class CredentialsError(ProviderError):
    """No usable credentials were found for a provider."""


class TimeoutExceededError(LkcloudError):
    """An operation did not finish before its deadline."""
