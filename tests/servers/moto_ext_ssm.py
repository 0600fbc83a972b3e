"""SSM PutParameter with DataType aws:ec2:image as AWS behaves: "a successful HTTP 200 response does
not guarantee that your parameter was successfully created or updated. The aws:ec2:image value is
validated asynchronously ... If you submit an invalid AMI value, the PutParameter operation will
return success, but the asynchronous validation will fail and the parameter will not be created or
updated" (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).

Switched on with ``ssm_validation_seconds`` (>= 0): the value is stored that many seconds later,
and only if the AMI then exists and is ``available`` in the parameter's region.
"""

from __future__ import annotations

import threading
from typing import Any

import moto_ext_behaviour as behaviour
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.responses import SimpleSystemManagerResponse

_pending: list[dict[str, Any]] = []
_lock = threading.Lock()
_original_put = SimpleSystemManagerResponse.put_parameter


def _valid(account: str, region: str, image_id: str) -> bool:
    image = ec2_backends[account][region].amis.get(image_id)
    return image is not None and image.state == "available"


def _settle(self: SimpleSystemManagerResponse) -> None:
    with _lock:
        due = [item for item in _pending if behaviour.now() >= item["at"]]
        _pending[:] = [item for item in _pending if item not in due]
    for item in due:
        if _valid(self.current_account, item["region"], item["value"]):
            self.ssm_backend.put_parameter(item["name"], None, item["value"], "String", None, None, True, None,
                                           "aws:ec2:image", tier=None, policies=None)


def put_parameter(self: SimpleSystemManagerResponse) -> ActionResult:
    _settle(self)
    delay = float(behaviour.get("ssm_validation_seconds"))
    if delay < 0 or self._get_param("DataType") != "aws:ec2:image":
        return _original_put(self)
    name = self._get_param("Name")
    with _lock:
        _pending.append({"at": behaviour.now() + delay, "name": name, "value": self._get_param("Value"),
                         "region": self.region})
    versions = self.ssm_backend._parameters.get(name) or []
    return ActionResult({"Version": (versions[-1].version if versions else 0) + 1, "Tier": "Standard"})


def _settling(name: str) -> Any:
    original = getattr(SimpleSystemManagerResponse, name)

    def handler(self: SimpleSystemManagerResponse) -> ActionResult:
        _settle(self)
        return original(self)  # type: ignore[no-any-return]

    return handler


def install() -> None:
    SimpleSystemManagerResponse.put_parameter = put_parameter  # type: ignore[method-assign]
    for name in ("get_parameter", "get_parameters", "get_parameter_history"):
        setattr(SimpleSystemManagerResponse, name, _settling(name))
