"""WhatsApp Cloud API: webhook signature and verification, normalisation and sending."""
