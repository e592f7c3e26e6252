"""Data rights: export, retention of raw text, and erasure of a person (`pulsebridge user delete`)."""
