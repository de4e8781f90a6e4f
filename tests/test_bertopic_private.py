"""The private BERTopic parts the plugin relies on are all listed, and still there in this BERTopic."""

import inspect
import re

from bertopic_sae.components import _bertopic_private as private
from bertopic_sae.components import bertopic as composed


def test_installed_bertopic_still_has_every_private_part_we_use():
    private.check_bertopic()  # raises naming each missing or changed part


def test_every_private_bertopic_method_used_is_listed():
    source = inspect.getsource(composed)
    called = set(re.findall(r"(?:self|super\(\))\.(_[a-z][a-z_]*)\(", source))
    ours = {
        name
        for name, _ in inspect.getmembers(composed.BERTopic)
        if name.startswith("_") and name in composed.BERTopic.__dict__
    }
    from bertopic import BERTopic as Stock

    theirs = {name for name in called if hasattr(Stock, name)}
    listed = set(private.OVERRIDDEN) | set(private.CALLED)
    assert theirs <= listed, f"unlisted private BERTopic methods: {sorted(theirs - listed)}"
    overridden = {name for name in ours if hasattr(Stock, name) and not name.startswith("__")}
    assert overridden <= set(private.OVERRIDDEN), (
        f"unlisted overrides: {sorted(overridden - set(private.OVERRIDDEN))}"
    )
    assert "from bertopic._" not in source  # private imports go through _bertopic_private only
