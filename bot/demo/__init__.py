"""The demo: a fictional company with months of history, for the playground and for trying pulsebridge out."""
