"""Development-only tooling: demo seeding, the benchmark and the soak (installed by development and test
settings, never by production ones). Nothing in ``billing/`` or ``portal/`` imports it."""
