import app.core.documents  # noqa: F401  (registers content handlers)
