"""The local playground: a third chat surface in the browser, for `pulsebridge demo`.

It renders the same neutral messages the Slack and Teams adapters render and feeds the core the
same events, so what a newcomer clicks through is the product, not a mock-up. It has no
authentication (anyone who reaches it can act as anyone), so it is only mounted by `demo`,
which binds to 127.0.0.1 by default.
"""
