"""The analysts' notebooks execute cleanly against a published mart, and are stored clean."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import SIM_END_ISO, run_cli
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_both_notebooks_exist_and_are_stored_without_outputs() -> None:
    assert {path.name for path in NOTEBOOKS} == {"at_risk_overview.ipynb", "product_deep_dive.ipynb"}
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert all(
            not cell.get("outputs") and not cell.get("execution_count")
            for cell in book.cells
            if cell.cell_type == "code"
        )


@pytest.fixture(scope="module")
def published_mart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from conftest import write_small_shop

    data_dir = tmp_path_factory.mktemp("notebook_shop")
    environment = {
        "STOCKOUT_DATA_DIR": str(data_dir),
        "STOCKOUT_NOW": SIM_END_ISO,
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
    }
    (data_dir / "dagster_home").mkdir()
    (data_dir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_small_shop(data_dir)
    for as_of in ("2026-11-20T12:00:00Z", SIM_END_ISO):
        result = run_cli("refresh", "--as-of", as_of, env=environment)
        assert result.returncode == 0, result.stdout
    os.environ["STOCKOUT_DATA_DIR"] = str(data_dir)
    yield data_dir
    os.environ.pop("STOCKOUT_DATA_DIR", None)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes_cleanly(path: Path, published_mart: Path) -> None:
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [
        output for cell in book.cells for output in cell.get("outputs", []) if output.output_type == "error"
    ]
    assert not errors
    images = [o for cell in book.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook should draw its charts"
