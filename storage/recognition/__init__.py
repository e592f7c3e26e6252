"""Kudos, wins and their queries."""
