"""Customer kudos relay: praise a customer gives reaches the employee who earned it.

Sources (webhook or import) → parsers.FeedbackRecord → classify (is it praise?) → routing (whose?)
→ relay (store once, DM the person, post in their team channel) or a triage post with a people picker.
"""
