"""Errors the extended moto server raises, serialised by moto like its own."""

from __future__ import annotations

from moto.core.exceptions import ServiceException


def fault(service: str, code: str, message: str) -> ServiceException:
    """A ServiceException for ``service`` (moto finds the error model by the class's module)."""
    namespace = {"__module__": f"moto.{service}.lkcloud_test", "code": code}
    cls = type(code.replace(".", "_"), (ServiceException,), namespace)
    return cls(message)  # type: ignore[no-any-return]
