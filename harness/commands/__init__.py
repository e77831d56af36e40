"""One module per `harness` subcommand, each with add_arguments(parser) and main(args) -> int."""
