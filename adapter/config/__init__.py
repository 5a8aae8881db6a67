"""The configuration, one module per part; this package imports none of them, so that a
dialect importing the receiver models does not load the whole document.

    model.py          the base model and the field types receivers share
    http.py           a receiver's http_config: outbound TLS, proxy, auth, signature
    receivers.py      what every receiver shares: delivery, dedup key, severity, rate limit
    timeintervals.py  the top-level `time_intervals:`
    web.py            `auth:`, the inbound credentials
    document.py       the top-level Config
    loader.py         YAML and environment in, Config or ConfigError out

A dialect's own model (adapter/integrations/) sits beside its dialect.
"""
