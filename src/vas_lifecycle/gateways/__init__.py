"""Adapters to SMS gateways. :mod:`vas_lifecycle.gateways.kannel` speaks to Kannel."""
