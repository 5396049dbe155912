"""Register maps shipped with the driver (data files; a package so that installs carry them)."""
