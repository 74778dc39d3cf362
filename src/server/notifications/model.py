"""A notification as the domain sees it, and how it rides in a broker publication."""

from __future__ import annotations

from dataclasses import dataclass

from ..broker.base import Publication
from ..platform.errors import invalid_argument, resource_exhausted
from .channels import notification_id

LEVELS = ("unspecified", "info", "success", "warning", "error")
MAX_TITLE = 200
MAX_BODY = 16 * 1024
MAX_CONTENT_TYPE = 128
MAX_REQUEST_ID = 128
# Room kept for the event's own fields when a notification is sent back out.
ENVELOPE_RESERVE = 16 * 1024


@dataclass(frozen=True, slots=True)
class Content:
    """What a publisher says; `level` is an index into LEVELS."""

    title: str = ""
    body: str = ""
    data: bytes = b""
    content_type: str = ""
    level: int = 0
    publisher: str = ""

    def meta(self) -> dict[str, str]:
        out = {"p": self.publisher}
        for key, value in (("t", self.title), ("b", self.body), ("ct", self.content_type)):
            if value:
                out[key] = value
        if self.level:
            out["l"] = LEVELS[self.level]
        return out


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    channel: str
    epoch: str
    offset: int
    time: float
    content: Content


def from_publication(pub: Publication) -> Notification:
    m = pub.meta
    level = m.get("l", "unspecified")
    content = Content(
        title=m.get("t", ""),
        body=m.get("b", ""),
        data=pub.data,
        content_type=m.get("ct", ""),
        level=LEVELS.index(level) if level in LEVELS else 0,
        publisher=m.get("p", ""),
    )
    return Notification(
        notification_id(pub.channel, pub.epoch, pub.offset),
        pub.channel,
        pub.epoch,
        pub.offset,
        pub.time,
        content,
    )


def validate_content(content: Content, max_message_bytes: int) -> None:
    """INVALID_ARGUMENT for malformed fields; RESOURCE_EXHAUSTED (MESSAGE_TOO_LARGE) when too big."""
    problems = []
    if len(content.title) > MAX_TITLE:
        problems.append(("title", f"at most {MAX_TITLE} characters"))
    if len(content.body.encode()) > MAX_BODY:
        problems.append(("body", f"at most {MAX_BODY} bytes"))
    if len(content.content_type) > MAX_CONTENT_TYPE:
        problems.append(("content_type", f"at most {MAX_CONTENT_TYPE} characters"))
    if content.data and not content.content_type:
        problems.append(("content_type", "required when data is set"))
    if not (content.title or content.body or content.data):
        problems.append(("title", "a notification needs a title, a body or data"))
    if not 0 <= content.level < len(LEVELS):
        problems.append(("level", "unknown level"))
    if problems:
        raise invalid_argument("invalid notification", problems)
    size = len(content.data) + len(content.title.encode()) + len(content.body.encode())
    limit = max_message_bytes - ENVELOPE_RESERVE
    if size > limit:
        raise resource_exhausted(
            f"notification is {size} bytes; at most {limit} allowed", reason="MESSAGE_TOO_LARGE"
        )


def validate_request_id(request_id: str) -> None:
    if len(request_id) > MAX_REQUEST_ID or not request_id.isprintable():
        raise invalid_argument(
            "invalid request_id", [("request_id", f"at most {MAX_REQUEST_ID} printable characters")]
        )
