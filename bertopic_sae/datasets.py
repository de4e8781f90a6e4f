"""Former name of :mod:`bertopic_sae.data` (kept so code written against 0.1.0 keeps importing)."""

from .data import *  # noqa: F403
from .data import __all__  # noqa: F401
