"""This section's panel on the home page."""


def panel():
    return None
