"""Subcommands of the ``raim`` command line, one module per group."""
