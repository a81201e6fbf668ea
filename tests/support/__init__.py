"""Starting the real parts for tests: every server on its own free ports and data folders."""
