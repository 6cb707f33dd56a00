"""The command line's help says what is true: the default modules, and the extras a
feature needs (Rich would read ``[vision]`` as markup and print nothing)."""

from typer.testing import CliRunner

from gigaloop.cli import DEFAULT_MODULES_TEXT, app
from gigaloop.run import DEFAULT_MODULES


def test_the_help_lists_the_default_modules_the_run_uses() -> None:
    assert ",".join(DEFAULT_MODULES) == DEFAULT_MODULES_TEXT


def test_the_help_names_the_extras_it_needs() -> None:
    runner = CliRunner()
    text = " ".join(runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "gigaloop[vision]" in text and "gigaloop[service]" in text
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "gigaloop[service]" in serve
