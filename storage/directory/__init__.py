"""People, teams and memberships, and the queries features use to find them."""
