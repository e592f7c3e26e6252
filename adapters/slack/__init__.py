"""Slack: bolt for verification and routing, Block Kit for rendering."""
