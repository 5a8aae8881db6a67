"""The top-level `alertmanager:` block: where the adapter reads Alertmanager's own view of its
alerts (`GET /api/v2/alerts`), to act on the silences and inhibitions Alertmanager never
notifies about (adapter/mutes.py decides, adapter/poller.py polls).

    alertmanager:
      urls: [http://alertmanager-0:9093, http://alertmanager-1:9093]   # any that answers
      poll_interval: 1m
      http_config: {...}                                               # as a receiver's
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from adapter.config.http import HTTPClientSettings
from adapter.config.model import Model, check_http_url
from adapter.durations import Duration
from adapter.secrets import url_secrets

# What a receiver does when an alert it serves is silenced or inhibited.
MuteAction = Literal["keep", "acknowledge", "resolve"]
# At most this long for one poll's answer, however long the interval.
POLL_TIMEOUT = 10.0


class AlertmanagerSettings(Model):
    # One Alertmanager, or every member of an HA cluster: they gossip silences, so any one
    # that answers knows them all.
    urls: list[str] = Field(min_length=1)
    poll_interval: Duration = 60.0
    http_config: HTTPClientSettings | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            check_http_url(url)
        return [url.rstrip("/") for url in urls]

    @field_validator("poll_interval")
    @classmethod
    def _interval(cls, seconds: float) -> float:
        if seconds < 1:
            raise ValueError(
                f"poll_interval must be at least 1s, not {seconds:g}s: each poll reads every "
                "alert Alertmanager holds"
            )
        return seconds

    @property
    def poll_timeout(self) -> float:
        return min(POLL_TIMEOUT, self.poll_interval)

    def secret_values(self) -> list[str]:
        values = self.http_config.secret_values() if self.http_config else []
        for url in self.urls:
            values += url_secrets(url)
        return values
