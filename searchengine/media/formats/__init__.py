"""Formats: one handler per kind of file, registered in :mod:`.registry`."""
