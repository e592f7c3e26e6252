"""Micro-pulses: scheduled one-tap questions in DMs, anonymous by construction (see docs/privacy.md)."""
