"""The kernel: what every feature builds on (dispatch, messages, ports, outbox, scheduler, settings).

It imports no feature; features register themselves with the core (see bot/app.py)."""
