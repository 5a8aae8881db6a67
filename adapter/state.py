"""What a running adapter holds: the loaded config made ready for use, and what a reload
or a token rotation swaps in.

    State.loaded        Loaded(config, receivers, auth), replaced in one assignment
    State.reload()      re-read the config and its secret files; keep the old one on error
    State.watch_tokens  poll bearer_tokens_file and rotate tokens without a reload
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

import structlog

from adapter.auth import Authenticator
from adapter.config import Config, ConfigError, load_config
from adapter.delivery import Deliverer
from adapter.landing import Activity
from adapter.metrics import Metrics
from adapter.pipeline import Receiver, receivers_from
from adapter.secrets import read_token_file
from adapter.transport import Transport

log = structlog.get_logger("adapter.state")

TOKEN_FILE_POLL = 5.0  # seconds between checks of bearer_tokens_file for a rotation


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything that a reload replaces, swapped in one assignment."""

    config: Config
    receivers: dict[str, Receiver]
    auth: Authenticator


def load(config: Config, before: Loaded | None = None) -> Loaded:
    """The config made ready; on a reload, receivers keep their rate budgets from `before`."""
    receivers = receivers_from(
        config.receivers, config.delivery, before.receivers if before else None
    )
    return Loaded(config, receivers, Authenticator(config.auth))


class State:
    def __init__(
        self,
        config: Config,
        transport: Transport | None,
        metrics: Metrics,
        config_path: str | None,
        token_poll: float = TOKEN_FILE_POLL,
    ) -> None:
        self.loaded = load(config)
        self.metrics = metrics
        self.config_path = config_path
        self.transport = transport
        self.token_poll = token_poll
        self.deliverer: Deliverer | None = None  # the lifespan starts it
        self.ready = False
        self.reload_lock = asyncio.Lock()
        self.activity: dict[str, Activity] = {}

    async def reload(self) -> None:
        """Re-read the config and its secret files; on any error keep serving the old one."""
        async with self.reload_lock:
            try:
                config = await asyncio.to_thread(load_config, self.config_path)
                loaded = load(config, self.loaded)
            except ConfigError as exc:
                self.metrics.config_loaded(False, time.time())
                log.error("config.reload_failed", problems=exc.problems)
                raise
            for name in loaded.receivers:
                self.metrics.add_receiver(name)
            self.loaded = loaded
            self.metrics.config_loaded(True, time.time())
            log.info("config.reloaded", receivers=sorted(loaded.receivers))

    async def watch_tokens(self, every: float = TOKEN_FILE_POLL) -> None:
        """Rotate tokens when bearer_tokens_file changes (Kubernetes swaps Secret files in place).

        A file that cannot be read or holds no token leaves the current tokens in force.
        """
        seen: tuple[int, int, int] | None = None
        while True:
            auth = self.loaded.config.auth
            path = auth.bearer_tokens_file
            if path is not None:
                try:
                    info = path.stat()
                    stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
                    if seen is not None and stamp != seen:
                        tokens = read_token_file(path)
                        config = self.loaded.config.model_copy(
                            update={"auth": auth.with_file_tokens(tokens)}
                        )
                        self.loaded = replace(
                            self.loaded, config=config, auth=Authenticator(config.auth)
                        )
                        log.info("auth.tokens_rotated", tokens=len(tokens))
                    seen = stamp
                except (OSError, ValueError) as exc:
                    log.error("auth.tokens_unreadable", error=str(exc), path=str(path))
            await asyncio.sleep(every)
