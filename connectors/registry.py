"""Every configured connector, registered explicitly and found by channel and name."""

from __future__ import annotations

from config.channels import Channels
from config.errors import NotFound
from config.settings import Settings
from connectors.base import Connector, Inbound
from connectors.http import JsonHttpClient
from connectors.rest.callback import RestCallbackConnector
from connectors.telegram.connector import TelegramConnector
from connectors.whatsapp.connector import WhatsAppConnector


class ConnectorRegistry:
    def __init__(self, settings: Settings, channels: Channels, *, user_agent: str) -> None:
        self.http = JsonHttpClient(
            timeout_seconds=settings.delivery_timeout_seconds, user_agent=user_agent
        )
        timeout = settings.delivery_timeout_seconds
        self.telegram = {
            name: TelegramConnector(bot, api_url=settings.telegram_api_url, timeout_seconds=timeout)
            for name, bot in channels.telegram.items()
        }
        self.whatsapp = {
            name: WhatsAppConnector(
                number,
                http=self.http,
                graph_url=settings.whatsapp_graph_url,
                version=settings.whatsapp_graph_version,
            )
            for name, number in channels.whatsapp.items()
        }
        secret = settings.rest_callback_secret
        self.rest = RestCallbackConnector(
            http=self.http, secret=secret.get_secret_value() if secret else None
        )

    def by_account(self, connector: Connector, inbound: Inbound) -> list[tuple[Connector, Inbound]]:
        """Split what one webhook carried by the account that received it: one Meta app
        posts the messages of all its numbers to one URL, so a WhatsApp body may name
        another configured number (by phone_number_id) than the route's."""
        if connector.channel != "whatsapp":
            return [(connector, inbound)]
        by_phone = {c.phone_number_id: c for c in self.whatsapp.values()}
        groups: dict[str, tuple[Connector, Inbound]] = {
            connector.account: (connector, Inbound(ignored=inbound.ignored))
        }

        def group(hint: str | None) -> Inbound:
            target = by_phone.get(hint or "", connector)
            return groups.setdefault(target.account, (target, Inbound()))[1]

        for message in inbound.messages:
            group(message.account_hint).messages.append(message)
        for status in inbound.statuses:
            group(status.account_hint).statuses.append(status)
        return list(groups.values())

    def get(self, channel: str, name: str) -> Connector:
        """The connector of a webhook route or a delivery; NotFound names what is known."""
        if channel == "rest":
            return self.rest
        by_channel: dict[str, dict[str, Connector]] = {
            "telegram": dict(self.telegram),
            "whatsapp": dict(self.whatsapp),
        }
        accounts = by_channel.get(channel, {})
        connector = accounts.get(name)
        if connector is None:
            known = ", ".join(sorted(accounts)) or "none configured"
            raise NotFound(f"no {channel} account named {name!r} (known: {known})")
        return connector

    async def aclose(self) -> None:
        for connector in (*self.telegram.values(), *self.whatsapp.values(), self.rest):
            await connector.aclose()
        await self.http.aclose()
