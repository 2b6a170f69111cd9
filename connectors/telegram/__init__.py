"""Telegram Bot API: webhook verification, update normalisation and sendMessage."""
