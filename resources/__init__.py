"""Icons and style sheets of the desktop app (a package so wheels ship them)."""
