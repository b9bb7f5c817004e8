from app.oversight import bp  # noqa: F401
