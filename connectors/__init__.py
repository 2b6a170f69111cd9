"""Channel connectors: Telegram, WhatsApp and REST callbacks behind one small interface."""
