"""Microsoft Teams: botbuilder's CloudAdapter for auth and transport, Adaptive Cards for rendering."""
