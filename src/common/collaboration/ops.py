"""Operations, applied operations and rejections: the plain-Python form of the contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..codes import Code
from .textop import TextOp

JSON = Any  # None | bool | int | float | str | list | dict (a google.protobuf.Value)


@dataclass(frozen=True, slots=True)
class CreateElement:
    element_id: str
    parent_id: str
    kind: str
    position: str
    properties: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteElement:
    element_id: str


@dataclass(frozen=True, slots=True)
class SetProperty:
    element_id: str
    key: str
    value: JSON  # None removes the property


@dataclass(frozen=True, slots=True)
class MoveElement:
    element_id: str
    parent_id: str
    position: str


@dataclass(frozen=True, slots=True)
class EditText:
    element_id: str
    key: str
    components: TextOp


@dataclass(frozen=True, slots=True)
class Malformed:
    """An operation the service could not even decode (e.g. no kind set); always rejected."""

    message: str


Op = CreateElement | DeleteElement | SetProperty | MoveElement | EditText | Malformed


@dataclass(frozen=True, slots=True)
class ClientOp:
    """An operation as a client sent it: its sequence number and the change."""

    client_seq: int
    op: Op


@dataclass(frozen=True, slots=True)
class Applied:
    """An accepted operation, in the form it was applied, with the version it produced."""

    version: int
    author: str
    client_id: str
    client_seq: int
    op: Op
    applied_at: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one operation of a batch was refused."""

    client_seq: int
    code: Code
    reason: str
    message: str
    lease: Any = None  # leases.Lease for LEASED_BY_OTHER


class OpRefused(Exception):
    """Raised inside the document model: the operation cannot be applied as it stands."""

    def __init__(self, code: Code, reason: str, message: str, lease: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.lease = lease


def element_of(op: Op) -> str:
    """The element an operation acts on ('' for a malformed one)."""
    return "" if isinstance(op, Malformed) else op.element_id
