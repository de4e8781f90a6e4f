"""Module names of bertopic-sae 0.1.0, mapped to where their classes live now.

A pickled model names the module of every class it holds (``bertopic_sae.merge.SAEAtomMerger``...);
this finder lets such pickles, and code importing the old modules, keep working after the layout move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

OLD_MODULES = {
    "bertopic_sae.config": "bertopic_sae.sae.config",
    "bertopic_sae.train": "bertopic_sae.sae.train",
    "bertopic_sae.pretrained": "bertopic_sae.sae.pretrained",
    "bertopic_sae.vocabulary": "bertopic_sae.tm.vocabulary",
    "bertopic_sae.emission": "bertopic_sae.tm.emission",
    "bertopic_sae.encoder": "bertopic_sae.components.encoder",
    "bertopic_sae.merge": "bertopic_sae.components.merger",
    "bertopic_sae.representation": "bertopic_sae.components.representation",
    "bertopic_sae._bertopic": "bertopic_sae.components.bertopic",
    "bertopic_sae.octis": "bertopic_sae.eval",
}
"""Old module name -> new module (``bertopic_sae.sae`` is now a package re-exporting the same names)."""


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return None  # a fresh module that only holds the new module's names

    def exec_module(self, module) -> None:
        target = importlib.import_module(self.target)
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in OLD_MODULES:
            return importlib.util.spec_from_loader(fullname, _AliasLoader(OLD_MODULES[fullname]))
        return None


def install() -> None:
    """Register the old module names (once)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        # Before any other finder, e.g. that of an editable install of an older copy.
        sys.meta_path.insert(0, _AliasFinder())
