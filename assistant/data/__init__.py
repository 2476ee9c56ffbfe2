"""Reviewed data files (YAML) read by assistant.query; a package so they ship in wheels."""
