"""The channel accounts atende serves: Telegram bots and WhatsApp Cloud API numbers.

They come from a YAML file (`ATENDE_CHANNELS_FILE`, absent file = none) and from the
environment (`ATENDE_TELEGRAM_BOTS`, `ATENDE_WHATSAPP_NUMBERS`, JSON lists); a name may
appear once per channel. No I/O beyond reading the named file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

# A name is part of a webhook URL, so keep it to URL-safe characters.
AccountName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]


class _Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramBot(_Account):
    name: AccountName
    token: SecretStr = Field(description="The bot token from @BotFather.")
    secret_token: SecretStr = Field(
        description="Sent by Telegram as X-Telegram-Bot-Api-Secret-Token on every webhook.",
        min_length=1,
    )


class WhatsAppNumber(_Account):
    name: AccountName
    phone_number_id: str = Field(min_length=1, description="The Cloud API phone number id.")
    access_token: SecretStr = Field(description="Token for the Graph API.")
    app_secret: SecretStr = Field(min_length=1, description="Signs X-Hub-Signature-256.")
    verify_token: SecretStr = Field(min_length=1, description="Answers the GET verification.")


class ChannelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telegram: list[TelegramBot] = Field(default_factory=list)
    whatsapp: list[WhatsAppNumber] = Field(default_factory=list)


class ChannelConfigError(ValueError):
    """The channels file or environment names something invalid; the message says what."""


class Channels:
    """Every configured account, found by channel and name."""

    def __init__(self, telegram: list[TelegramBot], whatsapp: list[WhatsAppNumber]) -> None:
        self.telegram = {bot.name: bot for bot in telegram}
        self.whatsapp = {number.name: number for number in whatsapp}
        for kind, given, unique in (
            ("telegram", telegram, self.telegram),
            ("whatsapp", whatsapp, self.whatsapp),
        ):
            if len(given) != len(unique):
                names = [a.name for a in given]
                twice = sorted({n for n in names if names.count(n) > 1})
                raise ChannelConfigError(f"{kind} account names given twice: {', '.join(twice)}")


def load_channels(
    path: Path | None,
    telegram: list[TelegramBot] | None = None,
    whatsapp: list[WhatsAppNumber] | None = None,
) -> Channels:
    """The file's accounts followed by the environment's; an absent file adds none."""
    from_file = ChannelsFile()
    if path is not None and path.exists():
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            from_file = ChannelsFile.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise ChannelConfigError(f"{path}: {exc}") from exc
    return Channels(
        [*from_file.telegram, *(telegram or [])], [*from_file.whatsapp, *(whatsapp or [])]
    )
