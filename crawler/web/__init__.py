"""The web view of `ecnews serve`: a small Datasette plugin of ours, its templates and CSS."""
