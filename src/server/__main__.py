"""`realtime-server`: run the hub until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Sequence

from .app import Hub, StartupError
from .config import load_settings
from .platform.logs import setup_logging
from .workers import supervise, worker_index


async def _serve(hub: Hub) -> None:
    await hub.start()
    # The ~80,000 objects made at startup (modules, services) live as long as the process: freeze
    # them so full collections scan only what calls create. Measured on unary Echo: garbage
    # collection went from 3.7-9.5 us to 0.9 us per call (full collections 2.6-8.6 us -> none).
    gc.collect()
    gc.freeze()
    hub.install_signal_handlers()
    await hub.wait_stopped()


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings(argv)
    setup_logging(settings.log_format, settings.log_level)
    if settings.workers > 1 and worker_index() is None:
        return supervise(settings, sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(_serve(Hub(settings)))
    except StartupError as exc:
        logging.getLogger("realtime.hub").error("cannot start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
