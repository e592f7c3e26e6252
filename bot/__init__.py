"""Platform-neutral core of pulsebridge: it never imports a chat platform SDK."""
