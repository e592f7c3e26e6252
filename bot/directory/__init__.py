"""The directory: who people are on each platform, their teams, and the daily sync from Slack/Teams."""
