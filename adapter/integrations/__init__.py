"""The dialects, by the `type` a receiver names in the config."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from adapter.integrations.alert24 import Alert24, Alert24Settings
from adapter.integrations.alertmanager_webhook import (
    AlertmanagerWebhook,
    AlertmanagerWebhookSettings,
)
from adapter.integrations.alias import Alias, AliasSettings
from adapter.integrations.base import Integration
from adapter.integrations.events_v2 import EventsV2, EventsV2Settings
from adapter.integrations.log import Log, LogSettings
from adapter.integrations.status_page import StatusPage
from adapter.integrations.status_page_settings import StatusPageSettings
from adapter.integrations.template import Template, TemplateSettings

# One line per dialect: the config model and the class that renders for it.
DIALECTS: dict[str, tuple[type[Any], type[Integration[Any]]]] = {
    "events-v2": (EventsV2Settings, EventsV2),
    "alias": (AliasSettings, Alias),
    "alert24": (Alert24Settings, Alert24),
    "alertmanager-webhook": (AlertmanagerWebhookSettings, AlertmanagerWebhook),
    "template": (TemplateSettings, Template),
    "status-page": (StatusPageSettings, StatusPage),
    "log": (LogSettings, Log),
}

AnyReceiverSettings = Annotated[
    EventsV2Settings
    | AliasSettings
    | Alert24Settings
    | AlertmanagerWebhookSettings
    | TemplateSettings
    | StatusPageSettings
    | LogSettings,
    Field(discriminator="type"),
]


def integration_for(settings: Any) -> Integration[Any]:
    _, cls = DIALECTS[settings.type]
    return cls(settings)
