"""The reader commands of `ecnews` (search, serve, the Atom export, db check), one per module."""
