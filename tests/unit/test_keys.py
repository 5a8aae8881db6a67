from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from adapter.config.loader import ConfigError, load_config
from adapter.config.receivers import DedupKeySettings
from adapter.keys import DedupRule, dedup_key_for
from adapter.payload import Alert, fingerprint

GROUP = '{}:{alertname="HighErrorRate"}'


def alert(labels: dict[str, str], **fields: str) -> Alert:
    return Alert.model_validate({"status": "firing", "labels": labels, **fields})


def test_fingerprint_matches_alertmanager_test_vectors() -> None:
    """The vectors of DESIGN.md section 5, computed by Alertmanager's model package."""
    assert fingerprint({}) == "cbf29ce484222325"
    labels = {
        "alertname": "HighErrorRate",
        "instance": "api-01",
        "service": "api",
        "severity": "critical",
    }
    assert fingerprint(labels) == "1d5a81814add1ad0"


def test_fingerprint_sorts_names_bytewise_and_separates_name_from_value() -> None:
    """`{a="bc"}` and `{ab="c"}` differ: the 0xFF separator keeps names and values apart."""
    assert fingerprint({"a": "bc"}) != fingerprint({"ab": "c"})
    assert fingerprint({"b": "1", "a": "2"}) == fingerprint({"a": "2", "b": "1"})


def test_fingerprint_strategy_prefers_alertmanagers_field() -> None:
    """AM's own fingerprint is used as is; it is recomputed only when absent."""
    labels = {"alertname": "X"}
    assert (
        dedup_key_for(alert(labels, fingerprint="00000000000000aa"), DedupRule(), GROUP, 255)
        == "00000000000000aa"
    )
    assert dedup_key_for(alert(labels), DedupRule(), GROUP, 255) == fingerprint(labels)


def test_labels_strategy_names_every_label_and_keeps_missing_ones_explicit() -> None:
    rule = DedupRule("labels", ("alertname", "instance"))
    assert (
        dedup_key_for(alert({"alertname": "X", "instance": "a"}), rule, GROUP, 255)
        == "alertname=X,instance=a"
    )
    assert dedup_key_for(alert({"alertname": "X"}), rule, GROUP, 255) == "alertname=X,instance="


def test_labels_strategy_cannot_be_confused_by_separators_in_values() -> None:
    """A value holding `,instance=` must not collide with a real second label."""
    rule = DedupRule("labels", ("alertname", "instance"))
    sneaky = dedup_key_for(alert({"alertname": "X,instance=a"}), rule, GROUP, 255)
    honest = dedup_key_for(alert({"alertname": "X", "instance": "a"}), rule, GROUP, 255)
    assert sneaky != honest


def test_group_strategy_is_the_group_key() -> None:
    assert dedup_key_for(alert({"alertname": "X"}), DedupRule("group"), GROUP, 255) == GROUP


def test_prefix_then_hash_past_the_limit() -> None:
    """Prefixed keys under the limit stay readable; longer ones become sha256 hex of the whole."""
    rule = DedupRule("labels", ("alertname",), prefix="prod-eu1/")
    short = dedup_key_for(alert({"alertname": "X"}), rule, GROUP, 255)
    assert short == "prod-eu1/alertname=X"
    long_name = "Y" * 300
    hashed = dedup_key_for(alert({"alertname": long_name}), rule, GROUP, 255)
    assert hashed == hashlib.sha256(f"prod-eu1/alertname={long_name}".encode()).hexdigest()
    assert len(hashed) == 64


def test_the_limit_counts_utf8_bytes() -> None:
    """An API limit in characters is met by counting bytes, the stricter measure."""
    rule = DedupRule("labels", ("alertname",))
    key = dedup_key_for(alert({"alertname": "é" * 130}), rule, GROUP, 255)  # 140 chars, 270 bytes
    assert len(key) == 64


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
label_sets = st.dictionaries(label_names, st.text(max_size=40), min_size=1, max_size=8)
texts = st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=50), max_size=4)
# Templates a migration would write; each reads only the stable names.
templates = st.sampled_from(
    [
        "{{ labels.alertname }}:{{ labels.instance }}",
        "{{ group_key }}-{{ labels.alertname }}",
        "{{ labels.values() | sort | join(',') }}",
        "{{ fingerprint }}{{ receiver }}",
        "{{ labels.missing }}",
    ]
)
rules = st.one_of(
    templates.map(lambda t: DedupKeySettings(strategy="template", template=t).rule("r")),
    st.just(DedupRule()),
    st.lists(label_names, min_size=1, max_size=4).map(
        lambda names: DedupRule("labels", tuple(names))
    ),
    st.just(DedupRule("group")),
    st.text(max_size=300).map(lambda prefix: DedupRule(prefix=prefix)),
)


@given(
    labels=label_sets,
    rule=rules,
    annotations_a=texts,
    annotations_b=texts,
    starts=st.text(max_size=30),
)
def test_trigger_and_resolve_of_one_alert_share_a_key(
    labels: dict[str, str],
    rule: DedupRule,
    annotations_a: dict[str, str],
    annotations_b: dict[str, str],
    starts: str,
) -> None:
    """Whatever else changes between the firing and the resolved send, the key does not."""
    firing = Alert.model_validate(
        {"status": "firing", "labels": labels, "annotations": annotations_a, "startsAt": "x"}
    )
    resolved = Alert.model_validate(
        {
            "status": "resolved",
            "labels": dict(reversed(list(labels.items()))),
            "annotations": annotations_b,
            "startsAt": starts,
            "endsAt": "2026-01-01T00:00:00Z",
            "generatorURL": "http://other",
        }
    )
    for limit in (255, 512):
        key = dedup_key_for(firing, rule, GROUP, limit)
        assert key and key == dedup_key_for(resolved, rule, GROUP, limit)
        assert len(key.encode()) <= limit


@given(a=label_sets, b=label_sets)
def test_different_label_sets_get_different_fingerprint_keys(
    a: dict[str, str], b: dict[str, str]
) -> None:
    if a != b:
        assert dedup_key_for(alert(a), DedupRule(), GROUP, 255) != dedup_key_for(
            alert(b), DedupRule(), GROUP, 255
        )


# -- strategy template: keys a migration from a hand-written adapter can keep ----------------

AM_GROUP_KEY = '{}:{alertname="HighErrorRate", instance="api-01.prod"}'
MIGRATED = {"alertname": "HighErrorRate", "instance": "api-01.prod", "severity": "critical"}


def template_rule(template: str, prefix: str = "", receiver: str = "alert24") -> DedupRule:
    return DedupKeySettings(strategy="template", template=template, prefix=prefix).rule(receiver)


def test_template_key_keeps_the_alert24_examples_alertname_colon_instance() -> None:
    rule = template_rule("{{ labels.alertname }}:{{ labels.instance }}")
    key = dedup_key_for(alert(MIGRATED, fingerprint="00000000000000aa"), rule, AM_GROUP_KEY, 512)
    assert key == "HighErrorRate:api-01.prod"


def test_template_key_keeps_the_alert24_guides_prometheus_alertname_instance_or_global() -> None:
    """Alert24's Prometheus guide aliases `prometheus-${alertname}-${instance || 'global'}`."""
    rule = template_rule("prometheus-{{ labels.alertname }}-{{ labels.instance or 'global' }}")
    key = dedup_key_for(alert(MIGRATED), rule, AM_GROUP_KEY, 255)
    assert key == "prometheus-HighErrorRate-api-01.prod"
    no_instance = {"alertname": "Watchdog", "severity": "none"}
    assert dedup_key_for(alert(no_instance), rule, GROUP, 255) == "prometheus-Watchdog-global"


def test_template_key_keeps_the_node_examples_group_key_dash_alertname() -> None:
    """The Node/express adapter keyed incidents `${groupKey}-${alertname}` (a real AM groupKey)."""
    rule = template_rule("{{ group_key }}-{{ labels.alertname }}")
    key = dedup_key_for(alert(MIGRATED), rule, AM_GROUP_KEY, 255)
    assert key == '{}:{alertname="HighErrorRate", instance="api-01.prod"}-HighErrorRate'


def test_template_key_continues_alertmanagers_own_pagerduty_and_opsgenie_keys() -> None:
    """Alertmanager's pagerduty and opsgenie notifiers key by notify.Key.Hash(): the sha256
    hex of the groupKey (`printf '%s' '{}:{alertname="HighErrorRate"}' | sha256sum`)."""
    rule = template_rule("{{ group_key | sha256 }}")
    key = dedup_key_for(alert(MIGRATED), rule, '{}:{alertname="HighErrorRate"}', 255)
    assert key == "cbc7a356b874c7d0332c73753d5082204bea3c18a5cb2a9a50e75f6687ffb86b"


def test_template_key_sees_fingerprint_and_receiver_and_a_missing_label_as_empty() -> None:
    rule = template_rule("{{ receiver }}/{{ fingerprint }}/{{ labels.cluster }}")
    key = dedup_key_for(alert({"alertname": "X"}, fingerprint="00000000000000aa"), rule, GROUP, 255)
    assert key == "alert24/00000000000000aa/"


def test_template_key_that_renders_empty_falls_back_to_the_fingerprint() -> None:
    """Two alerts without the named label must not share one "" key (one incident for all)."""
    rule = template_rule("{{ labels.instance }}", prefix="p/")
    first = dedup_key_for(alert({"alertname": "A"}), rule, GROUP, 255)
    second = dedup_key_for(alert({"alertname": "B"}), rule, GROUP, 255)
    assert first == "p/" + fingerprint({"alertname": "A"})
    assert second == "p/" + fingerprint({"alertname": "B"})


def test_template_key_is_prefixed_then_hashed_past_the_limit() -> None:
    rule = template_rule("{{ labels.alertname }}", prefix="prod/")
    assert dedup_key_for(alert({"alertname": "X"}), rule, GROUP, 255) == "prod/X"
    hashed = dedup_key_for(alert({"alertname": "Y" * 300}), rule, GROUP, 255)
    assert hashed == hashlib.sha256(("prod/" + "Y" * 300).encode()).hexdigest()


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{{ annotations.summary }}", "must not read 'annotations': annotations change"),
        ("{{ startsAt }}", "must not read <value>: startsAt"),
        ("{{ endsAt }}", "must not read <value>: endsAt"),
        ("{{ alert.labels.instance }}", "must not read 'alert'"),
        ("{{ labelz.instance }}", "'labelz' is undefined"),
        ("{{ labels.instance", "template error on line 1"),
        ("{{ labels.alertname / 0 }}", "does not render against a sample alert"),
    ],
)
def test_template_key_reading_anything_unstable_is_a_config_error(
    template: str, why: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.yml"
    receiver = {"name": "x", "type": "log", "dedup_key": {"strategy": "template"}}
    receiver["dedup_key"]["template"] = template  # type: ignore[index]
    path.write_text(yaml.safe_dump({"receivers": [receiver]}))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert problem.startswith("receivers[0].dedup_key.template: ")
    assert why in problem


def test_strategy_template_needs_a_template_and_a_template_needs_the_strategy() -> None:
    with pytest.raises(ValueError, match="needs template"):
        DedupKeySettings(strategy="template")
    with pytest.raises(ValueError, match="only used with strategy 'template'"):
        DedupKeySettings(template="{{ labels.alertname }}")
