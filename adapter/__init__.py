"""incident-adapter: Alertmanager webhooks in, one incident event per alert out."""

__version__ = "0.1.0"
