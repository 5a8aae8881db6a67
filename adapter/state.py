"""What a running adapter holds: the loaded config made ready for use, and what a reload
or a token rotation swaps in.

    build(config, source, host=, before=)   everything the config implies, or ConfigError
    State.loaded        Loaded(config, receivers, auth), replaced in one assignment
    State.reload()      re-read the config and its secret files; keep the old one on error
    State.watch_tokens  poll bearer_tokens_file and rotate tokens without a reload
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

import structlog

from adapter import tracing
from adapter.activity import Activity
from adapter.auth import (
    BESIDE_WEB_USERS,
    Authenticator,
    exposure_problems,
    token_file_problems,
)
from adapter.config.document import Config
from adapter.config.loader import DEFAULT_SOURCE, ConfigError, load_config
from adapter.coordination import rebuilt
from adapter.delivery import Deliverer
from adapter.metrics import Metrics
from adapter.pipeline import Receiver
from adapter.ratelimit import RateWindow
from adapter.secrets import read_token_file, scrub
from adapter.transport import Transport

log = structlog.get_logger("adapter.state")

TOKEN_FILE_POLL = 5.0  # seconds between checks of bearer_tokens_file for a rotation


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything that a reload replaces, swapped in one assignment."""

    config: Config
    receivers: dict[str, Receiver]
    auth: Authenticator

    @property
    def longest_webhook(self) -> float:
        """Seconds the slowest receiver may take to answer a webhook (its delivery.timeout)."""
        timeouts = [r.delivery.timeout for r in self.receivers.values()]
        return max(timeouts, default=self.config.delivery.timeout)

    @property
    def rate_windows(self) -> dict[str, RateWindow]:
        """Each rate-limited receiver's window, for the store replicas share."""
        return {n: r.rate_window for n, r in self.receivers.items() if r.rate_window is not None}


def _why(exc: Exception, secrets: list[str]) -> str:
    # A ValueError's text is written for users; anything else is a bug, named by its type.
    text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    return scrub(text, secrets)


def build(
    config: Config,
    source: str,
    *,
    host: str | None = None,
    before: Loaded | None = None,
    web_users: bool = False,
) -> Loaded:
    """Everything the config implies, made ready: each receiver (its dialect, key and
    severity rules, rate budget, outbound TLS context, proxy and headers), the
    authenticator, and the credentials checked against the listen address `host` (None:
    not known, as for an app made in a test). `web_users`: the web config's basic_auth_users
    guard the listener, so the config must not set credentials of its own.

    check-config, the start and every reload call this one function, so whatever passes
    check-config starts, and whatever would fail at start fails a reload instead, which
    then keeps the old config. Raises ConfigError with every problem, each naming its path.
    On a reload, receivers take over the rate budgets of `before` only once all is well."""
    problems = exposure_problems(config.auth, host)
    if web_users and config.auth.enabled:
        problems.append(BESIDE_WEB_USERS)
    secrets = config.secret_values()
    receivers: dict[str, Receiver] = {}
    for index, settings in enumerate(config.receivers):
        try:
            receivers[settings.name] = Receiver.from_settings(settings, config.delivery)
        except Exception as exc:  # any failure here is a config that must not be served
            problems.append(f"receivers[{index}]: cannot be set up: {_why(exc, secrets)}")
    try:
        auth = Authenticator(config.auth)
    except Exception as exc:  # as above
        problems.append(f"auth: cannot be set up: {_why(exc, secrets)}")
    if problems:
        raise ConfigError(source, problems)
    if before is not None:
        # RateWindow.succeeding updates the old window in place: only for a build that stands.
        for name, receiver in receivers.items():
            old = before.receivers.get(name)
            if receiver.rate_window is not None and old is not None:
                receivers[name] = replace(
                    receiver, rate_window=receiver.rate_window.succeeding(old.rate_window)
                )
    return Loaded(config, receivers, auth)


class State:
    def __init__(
        self,
        config: Config,
        transport: Transport | None,
        metrics: Metrics,
        config_path: str | None,
        token_poll: float = TOKEN_FILE_POLL,
        host: str | None = None,
        web_users: bool = False,
    ) -> None:
        self.source = config_path or DEFAULT_SOURCE
        self.host = host  # the listen address's host, for the checks of credentials
        self.web_users = web_users  # basic_auth_users guard the listener: no auth: of its own
        self.loaded = build(config, self.source, host=host, web_users=web_users)
        self.metrics = metrics
        self.config_path = config_path
        self.transport = transport
        self.token_poll = token_poll
        self.deliverer: Deliverer | None = None  # the lifespan starts it
        self.ready = False
        self.reload_lock = asyncio.Lock()
        self.activity: dict[str, Activity] = {}

    async def reload(self) -> None:
        """Re-read the config and its secret files; on any error keep serving the old one.

        Raises ConfigError naming every problem; `unexpected` is set when the cause was a
        bug rather than the config (the answer is then a 500, still without a trace)."""
        async with self.reload_lock:
            try:
                config = await asyncio.to_thread(load_config, self.config_path)
                loaded = build(
                    config,
                    self.source,
                    host=self.host,
                    before=self.loaded,
                    web_users=self.web_users,
                )
            except Exception as exc:
                failure = exc if isinstance(exc, ConfigError) else _unexpected(self.source, exc)
                self.metrics.config_loaded(False, time.time())
                log.error("config.reload_failed", problems=failure.problems, source=self.source)
                raise failure from None
            gone = set(self.loaded.receivers) - set(loaded.receivers)
            for name in loaded.receivers:
                self.metrics.add_receiver(name)
            self.loaded = loaded
            if self.deliverer is not None:  # a store whose settings changed: a new client
                shared = self.deliverer.shared
                self.deliverer.shared = await rebuilt(
                    shared, config.coordination, self.metrics, loaded.rate_windows
                )
            for name in gone:  # no series left behind for a receiver that no longer exists
                self.metrics.remove_receiver(name)
                self.activity.pop(name, None)
            self.metrics.config_loaded(True, time.time())
            log.info("config.reloaded", receivers=sorted(loaded.receivers))
            if (replaced := tracing.install(config.tracing)) is not None:
                await asyncio.to_thread(replaced.shutdown)  # rebuilt: the old one flushes

    async def watch_tokens(self, every: float = TOKEN_FILE_POLL) -> None:
        """Rotate tokens when bearer_tokens_file changes (Kubernetes swaps Secret files in place).

        A file that cannot be read or holds no token leaves the current tokens in force.
        """
        seen: tuple[int, int, int] | None = None
        while True:
            # Not while a reload runs: it read the file before this tick and would replace
            # what a rotation now set with what it read. After it, a file changed since the
            # last tick differs from `seen` and is read again.
            async with self.reload_lock:
                seen = self._rotate_tokens(seen)
            await asyncio.sleep(every)

    def _rotate_tokens(self, seen: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        auth = self.loaded.config.auth
        path = auth.bearer_tokens_file
        if path is not None:
            try:
                info = path.stat()
                stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
                if seen is not None and stamp != seen:
                    tokens = read_token_file(path)
                    rotated = auth.with_file_tokens(tokens)
                    if problems := token_file_problems(rotated, self.host):
                        log.error("auth.tokens_refused", problems=problems, path=str(path))
                    else:
                        config = self.loaded.config.model_copy(update={"auth": rotated})
                        self.loaded = replace(
                            self.loaded, config=config, auth=Authenticator(config.auth)
                        )
                        log.info("auth.tokens_rotated", tokens=len(tokens))
                seen = stamp
            except (OSError, ValueError) as exc:
                log.error("auth.tokens_unreadable", error=str(exc), path=str(path))
        return seen


def _unexpected(source: str, exc: Exception) -> ConfigError:
    """A failure that is not the config's (a bug): reported like one, its type named."""
    return ConfigError(
        source, [f"the reload failed unexpectedly: {type(exc).__name__}"], unexpected=True
    )
