"""Platform adapters (Slack, Teams) and the process that hosts them: translation only, no business rules."""
