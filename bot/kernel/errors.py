"""Errors that carry a message meant for the person who typed the command."""


class UserFacingError(Exception):
    """Bad input: the text is shown to the user as is, and nothing was stored."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class ConfigError(Exception):
    """Invalid settings or config file; the CLI prints the message on one line and exits 2."""
