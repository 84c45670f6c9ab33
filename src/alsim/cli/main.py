"""The `alsim` command line (placeholder entry point replaced below)."""

import typer

app = typer.Typer()
