"""Each vendor's facts are found by its name, and are the very tables its dialect uses."""

from __future__ import annotations

from adapter.integrations import alert24, alias, events_v2
from adapter.integrations.vendors import VENDORS


def test_a_vendor_is_found_by_its_name_not_its_dialect() -> None:
    assert set(VENDORS) >= {"pagerduty", "opsgenie", "alert24", "statuspage"}
    assert VENDORS["opsgenie"].dialect == "alias"
    assert VENDORS["pagerduty"].dialect == "events-v2"
    assert VENDORS["opsgenie"].url == "https://api.opsgenie.com/v2/alerts"
    assert VENDORS["pagerduty"].url == "https://events.pagerduty.com/v2/enqueue"


def test_the_table_points_at_what_the_dialects_use() -> None:
    assert VENDORS["opsgenie"].size_limits is alias.LIMITS
    assert VENDORS["alert24"].size_limits is alert24.LIMITS
    assert VENDORS["pagerduty"].size_limits is events_v2.LIMITS
    assert VENDORS["pagerduty"].retry is events_v2.PRESETS["pagerduty"].retry
    assert VENDORS["pagerduty"].rate_limit == (120, 60.0)
    assert 420 in VENDORS["statuspage"].retry.retry_statuses
    for name, vendor in VENDORS.items():
        assert vendor.doc_url.startswith("https://"), name
        assert vendor.dialect, name
