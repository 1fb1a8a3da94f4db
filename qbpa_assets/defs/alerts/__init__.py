"""Operational alerts: run-failure notifications and the rejected-orders warning."""
