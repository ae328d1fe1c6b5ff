import app.core.ballots  # registers ballot content and vote item handlers
import app.core.documents  # noqa: F401  (registers content handlers)
