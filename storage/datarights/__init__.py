"""Export, retention purge and erasure across every feature's tables."""
