"""``gigaloop run --scenario`` takes a TOML file or a packaged scenario's name (as
docs/scenarios.md says), and a name it does not know is refused with the ones it does."""

import json
from pathlib import Path

from typer.testing import CliRunner

from gigaloop.cli import app


def test_a_packaged_scenario_runs_by_name(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--scenario", "alternate", "--days", "2",
                                      "--modules", "rootcause", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["run"]["scenario"] == "alternate"


def test_an_unknown_scenario_says_what_it_could_be(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--scenario", "nonesuch", "--days", "2",
                                      "--out", str(tmp_path / "run")], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "packaged scenario's name (alternate, default)" in " ".join(result.output.split())
