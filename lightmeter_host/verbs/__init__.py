"""The verbs of the `lightmeter` command: one module each, with add_parser(subparsers) and
run(args) -> exit status. cli.py lists them."""
