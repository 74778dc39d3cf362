"""Errors every layer can raise without importing grpc.

Domain code raises `HubError` (or one of the helpers below); the call wrapper in
`interceptor.py` is the one place that turns it into a gRPC status with
`google.rpc.Status` details (see `status.py`). Any other exception becomes
INTERNAL, with the traceback logged and never sent to the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from realtime.common.codes import Code as Code  # re-exported: domain code imports it from here

DOMAIN = "realtime"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """One exceeded quota (google.rpc.QuotaFailure.Violation): whose, and which limit."""

    subject: str
    description: str


@dataclass
class HubError(Exception):
    """An expected failure with a status code, a stable reason and optional details.

    `reason` is the `google.rpc.ErrorInfo.reason` (UPPER_SNAKE_CASE); it defaults to
    the code's name. `retry_after` (seconds) becomes `google.rpc.RetryInfo`, `quota`
    becomes `google.rpc.QuotaFailure`.
    """

    code: Code
    message: str
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    violations: tuple[FieldViolation, ...] = ()
    retry_after: float | None = None
    quota: tuple[QuotaViolation, ...] = ()

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = self.code.name
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def invalid_argument(
    message: str, violations: Iterable[tuple[str, str]] = (), *, reason: str = "INVALID_ARGUMENT"
) -> HubError:
    """INVALID_ARGUMENT with BadRequest field violations given as (field, description) pairs."""
    found = tuple(FieldViolation(f, d) for f, d in violations)
    return HubError(Code.INVALID_ARGUMENT, message, reason=reason, violations=found)


def not_found(message: str, *, reason: str = "NOT_FOUND") -> HubError:
    return HubError(Code.NOT_FOUND, message, reason=reason)


def already_exists(message: str, *, reason: str = "ALREADY_EXISTS") -> HubError:
    return HubError(Code.ALREADY_EXISTS, message, reason=reason)


def permission_denied(message: str, *, reason: str = "PERMISSION_DENIED") -> HubError:
    return HubError(Code.PERMISSION_DENIED, message, reason=reason)


def unauthenticated(message: str) -> HubError:
    return HubError(Code.UNAUTHENTICATED, message, reason="AUTHENTICATION_FAILED")


def failed_precondition(message: str, *, reason: str = "FAILED_PRECONDITION") -> HubError:
    return HubError(Code.FAILED_PRECONDITION, message, reason=reason)


def resource_exhausted(
    message: str,
    *,
    reason: str = "QUOTA_EXCEEDED",
    retry_after: float | None = None,
    quota: Iterable[tuple[str, str]] = (),
) -> HubError:
    """RESOURCE_EXHAUSTED; `quota` lists (subject, description) pairs for QuotaFailure."""
    violations = tuple(QuotaViolation(s, d) for s, d in quota)
    return HubError(
        Code.RESOURCE_EXHAUSTED, message, reason=reason, retry_after=retry_after, quota=violations
    )


def unavailable(message: str, *, reason: str = "UNAVAILABLE", retry_after: float | None = None) -> HubError:
    return HubError(Code.UNAVAILABLE, message, reason=reason, retry_after=retry_after)


def going_away() -> HubError:
    """How a stream ends after its `going_away` event: UNAVAILABLE, which every gRPC client
    treats as retryable, so reconnect logic (and `realtime.client.reconnecting`) resumes elsewhere."""
    return unavailable("server shutting down; reconnect", reason="GOING_AWAY", retry_after=1.0)
