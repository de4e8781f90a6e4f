"""Every notebook runs end to end on its small subset, shows its named figures and tables, and writes
nothing into the repository."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PLOTLY = "application/vnd.plotly.v1+json"
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _files(root: Path) -> dict[str, float]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = path.stat().st_mtime
    return found


def _execute(name: str, monkeypatch, **env) -> nbformat.NotebookNode:
    monkeypatch.delenv("BERTOPIC_SAE_NOTEBOOK_FULL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    before = _files(ROOT)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert _files(ROOT) == before, "the notebook wrote into the repository"
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    return notebook


def _tagged(notebook, tag: str):
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"no cell tagged {tag!r}"
    return cells[0].outputs


def _figure(notebook, tag: str) -> dict:
    figures = [o.data[PLOTLY] for o in _tagged(notebook, tag) if PLOTLY in o.get("data", {})]
    assert figures, f"cell {tag!r} drew no plotly figure"
    figure = figures[-1]
    return json.loads(figure) if isinstance(figure, str) else figure


def _text(notebook, tag: str) -> str:
    outputs = _tagged(notebook, tag)
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def test_quickstart_notebook_executes(monkeypatch):
    notebook = _execute("quickstart.ipynb", monkeypatch, QUICKSTART_DOCS="400")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "identical predictions after load: True" in text


def test_coherence_vs_k_notebook(monkeypatch):
    notebook = _execute("coherence_vs_k.ipynb", monkeypatch)
    figure = _figure(notebook, "npmi-figure")
    models = {"sae", "kmeans", "bertopic", "lda", "prodlda", "ctm", "fastopic"}
    assert {trace["name"] for trace in figure["data"]} == models
    assert len(figure["data"]) == 7 * 4  # every model on every dataset
    ranks = _text(notebook, "rank-table")
    assert all(dataset in ranks for dataset in ("20newsgroups", "bbc_news", "m10", "dblp"))


def test_ctm_theory_notebook(monkeypatch):
    notebook = _execute("ctm_theory.ipynb", monkeypatch)
    text = _text(notebook, "regimes-figure")
    found = re.findall(r"\((.+?)\): (\d+)% of the planted", text)
    recovered = {regime: int(share) for regime, share in found}
    assert set(recovered) == {"CTM regime", "dense mixtures", "noise dominates"}
    assert recovered["CTM regime"] >= 80, recovered  # the theory's regime recovers the directions ...
    assert max(recovered["dense mixtures"], recovered["noise dominates"]) <= 50, recovered  # ... others not
    assert _figure(notebook, "phase-figure")["data"][0]["type"] == "heatmap"


def test_topics_over_time_notebook(monkeypatch):
    notebook = _execute("topics_over_time.ipynb", monkeypatch)
    assert _figure(notebook, "over-time-figure")["data"]  # BERTopic's own plot
    assert "rising (interval above 1)" in _text(notebook, "trend-table")
    assert "still rising" in _text(notebook, "steady-trends")
    assert _figure(notebook, "atoms-figure")["data"][0]["type"] == "bar"
    sankey = _figure(notebook, "tree-figure")["data"][0]
    assert sankey["type"] == "sankey" and len(sankey["node"]["label"]) == 3 + 6 + 12


def test_dataset_composition_notebook(monkeypatch):
    notebook = _execute("dataset_composition.ipynb", monkeypatch)
    corpora = ["BBC News", "Reuters 1987", "health tweets"]
    assert [trace["name"] for trace in _figure(notebook, "composition-figure")["data"]] == corpora
    assert [trace["name"] for trace in _figure(notebook, "shares-figure")["data"]] == corpora
    assert all(name in _text(notebook, "composition-table") for name in corpora)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_is_tested(path):
    assert f'"{path.name}"' in Path(__file__).read_text()


def test_mechanistic_topics_notebook(monkeypatch):
    notebook = _execute("mechanistic_topics.ipynb", monkeypatch)
    assert "strongest feature" in _text(notebook, "token-table")
    assert "Ebola" in _text(notebook, "ebola-features")
    filters = _text(notebook, "filter-table")
    assert all(row in filters for row in ("no filter", "density <= 1% (paper)", "density <= 5%"))
    bars = _figure(notebook, "topic-figure")["data"]
    assert len(bars) == 6 and all(trace["type"] == "bar" for trace in bars)  # one panel per topic
    assert all(label.startswith("f") for trace in bars for label in trace["y"])  # bars are SAE features
    assert _figure(notebook, "mbertopic-figure")["data"][0]["type"] == "bar"  # BERTopic's own barchart
    steering = _text(notebook, "steering-table")
    assert "strength 10: True, strength 40: True" in steering  # the hook changes the greedy continuation
    assert all(row in steering for row in ("unsteered", "strength 10", "strength 40"))
