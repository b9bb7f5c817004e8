"""Demo data for this section (idempotent)."""


def load() -> int:
    return 0
