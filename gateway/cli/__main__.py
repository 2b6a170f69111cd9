"""`python -m gateway.cli`: the `atende` command."""

from gateway.cli import main

main()
