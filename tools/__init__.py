"""Developer tools run from a checkout (not shipped): screenshots, the relay's view."""
