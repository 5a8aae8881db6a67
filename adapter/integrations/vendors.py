"""Each vendor's facts, found by the vendor's name: which dialect speaks to it, its API's
default URL, its documented size limits, the answers worth a retry, its request rate, and
the doc that states them.

The facts themselves stay beside the dialect that uses them (a dialect's LIMITS, its
RetryPolicy, its presets); this table points at them, so that "what do we know about
Opsgenie" has one answer even though the dialect is `alias`, and PagerDuty's facts are found
under "pagerduty" though its dialect is `events-v2`.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.events import RetryPolicy
from adapter.integrations import alert24, alias, events_v2, status_page, status_page_presets
from adapter.limits import SizeLimits


@dataclass(frozen=True, slots=True)
class Vendor:
    dialect: str  # the receiver `type` that speaks to it
    url: str  # the API's default URL, or its documented base ("" where each account has its own)
    size_limits: SizeLimits | status_page_presets.Limits
    retry: RetryPolicy
    rate_limit: tuple[int, float] | None  # documented (requests, per seconds); None: none known
    doc_url: str


_PD = events_v2.PRESETS["pagerduty"]
_A24_EVENTS = events_v2.PRESETS["alert24"]
_STATUSPAGE = status_page_presets.PRESETS["statuspage"]

VENDORS: dict[str, Vendor] = {
    "pagerduty": Vendor(
        "events-v2", _PD.url, _PD.size_limits, _PD.retry, _PD.rate_limit, _PD.size_limits.doc_url
    ),
    "opsgenie": Vendor(
        "alias",
        alias.AliasSettings.model_fields["url"].default,
        alias.LIMITS,
        alias.Alias.retry_policy,
        alias.Alias.default_rate_limit,
        alias.LIMITS.doc_url,
    ),
    "alert24": Vendor(
        "alert24",
        alert24.URL,
        alert24.LIMITS,
        alert24.RETRY,
        alert24.Alert24.default_rate_limit,
        alert24.LIMITS.doc_url,
    ),
    "alert24-events": Vendor(
        "events-v2",
        _A24_EVENTS.url,
        _A24_EVENTS.size_limits,
        _A24_EVENTS.retry,
        _A24_EVENTS.rate_limit,
        _A24_EVENTS.size_limits.doc_url,
    ),
    "statuspage": Vendor(
        "status-page",
        "",
        _STATUSPAGE.limits,
        status_page.StatusPage.retry_policy,
        status_page.StatusPage.default_rate_limit,
        _STATUSPAGE.doc_url,
    ),
}
