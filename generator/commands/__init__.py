"""One module per `gen` subcommand; cli.py imports them lazily."""
