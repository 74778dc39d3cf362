"""Settings of the notification service, from REALTIME_NOTIFICATIONS_* variables and overrides.

The hub's settings carry overrides in `Settings.extra["notifications"]` (field name -> value);
those beat the environment, which beats the defaults (the loader every service shares,
`platform.service_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..platform.service_config import load_service_config

SECTION = "notifications"


@dataclass(frozen=True)
class NotificationsConfig:
    publish_rate: float = 50.0  # Publish calls per second per user (token bucket); 0 disables
    publish_burst: int = 100
    queue_bytes: int = 1024 * 1024  # a stream's send queue; past it: RESOURCE_EXHAUSTED SLOW_CONSUMER
    # All of one user's stream queues together in one process (streams x queue_bytes is not a
    # bound: a user may open many streams); past it the stream that would overflow it ends with
    # RESOURCE_EXHAUSTED SLOW_CONSUMER and resumes from history.
    user_queue_bytes: int = 16 * 1024 * 1024
    max_subscriptions_per_user: int = 100  # distinct channels per user (per process)
    presence_ttl: float = 60.0  # presence entries expire unless refreshed (every ttl/3)
    stats_interval: float = 5.0  # seconds between `system:stats` publications; 0 disables
    open_namespaces: tuple[str, ...] = ("topic",)  # every user reads and publishes these
    history_size: int = 1000  # per channel, for namespaces without their own setting
    history_ttl: float = 24 * 3600.0
    # One notification (title + body + data + content type), for everyone; the hub's message size
    # minus 16 KiB caps it further.
    max_notification_bytes: int = 64 * 1024
    # Quotas on ordinary users publishing into open namespaces (0 disables one). Counted in the
    # broker, so they hold across replicas.
    quota_window: float = 60.0  # the window of user_publish_bytes
    user_publish_bytes: int = 2 * 1024 * 1024  # bytes one user publishes per window
    user_channels: int = 50  # channels one user creates (first publication) per history TTL
    channel_history_bytes: int = 4 * 1024 * 1024  # bytes kept in one channel's history
    namespace_history_bytes: int = 64 * 1024 * 1024  # bytes kept in an open namespace's history
    # A stream that takes batches and wrote less than this many seconds ago waits out the rest
    # before its next write, so a busy channel's publications share batches; 0 sends at once.
    batch_delay: float = 0.02

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> NotificationsConfig:
        return load_service_config(cls, SECTION, {SECTION: overrides or {}}, environ)
