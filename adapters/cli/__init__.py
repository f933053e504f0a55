"""The `flowledger` command line, one module per group of subcommands."""
