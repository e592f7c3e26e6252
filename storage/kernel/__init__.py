"""Storage the kernel needs: the engine and write units, migrations, delivery keys, the outbox, the scheduler lease."""
