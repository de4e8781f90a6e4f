"""A subset of BERTopic v0.17.4's own test suite, run against the plugin in the default test run.

The whole suite runs with ``make bertopic-suite`` (tests/bertopic_suite/); this subset covers the
online, save/stock-load and delete paths where the suite found plugin bugs, and builds three of the
suite's fixture models.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT.parent / "shared" / "external" / "bertopic-v0.17.4-tests" / "tests"
SUBSET = [
    "test_bertopic.py::test_full_model[base_topic_model]",  # saves model_dir, which later params reload
    "test_bertopic.py::test_full_model[online_topic_model]",
    "test_reduction/test_delete.py::test_delete[kmeans_pca_topic_model]",
    "test_reduction/test_delete.py::test_delete[online_topic_model]",
    "test_variations/test_class.py::test_class[online_topic_model]",
]

pytestmark = pytest.mark.slow


def test_bertopic_own_tests_pass_on_the_plugin():
    if not UPSTREAM.is_dir():
        pytest.skip(f"BERTopic's suite is not at {UPSTREAM} (it comes with the project's shared folder)")
    command = [
        sys.executable, "-m", "pytest", "-p", "tests.bertopic_suite.plugin", "--noconftest",
        "--import-mode=importlib", "-p", "no:cacheprovider", f"--rootdir={UPSTREAM}", "-q",
        *[str(UPSTREAM / test) for test in SUBSET],
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert f"{len(SUBSET)} passed" in result.stdout, result.stdout[-3000:]
