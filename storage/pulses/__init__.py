"""Pulse cycles, the people asked, and the answers, stored apart from who gave them."""
