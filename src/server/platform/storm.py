"""gRPC core settings that let a reconnect storm (thousands of calls at once) be served.

grpc.aio takes calls from the core one at a time on the event loop. Calls that arrive
faster than that wait in the core's pending queue, which by default starts refusing at
1,000 waiting calls (random early drop up to a hard limit of 3,000) and kills calls that
waited longer than 30 s. A replica going away sends every client back at once, so the
queue is sized for 10,000 reconnects per process; calls still beyond it are refused with
a status the clients retry with jittered backoff.
"""

from __future__ import annotations

# Waiting calls before the core starts refusing some (random early drop) / refuses all.
MAX_PENDING_CALLS = 20_000
MAX_PENDING_CALLS_HARD = 40_000
# Seconds a call may wait for the application to take it before the core cancels it.
MAX_UNREQUESTED_SECONDS = 120


def storm_options() -> list[tuple[str, int]]:
    return [
        ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
        ("grpc.server.max_pending_requests_hard_limit", MAX_PENDING_CALLS_HARD),
        ("grpc.server_max_unrequested_time_in_server", MAX_UNREQUESTED_SECONDS),
    ]
