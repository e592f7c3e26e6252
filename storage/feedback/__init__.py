"""Customer feedback: the records, their routing, and the one definition of a team's customer feedback."""
