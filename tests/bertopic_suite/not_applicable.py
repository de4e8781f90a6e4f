"""The upstream BERTopic v0.17.4 tests that cannot apply to an SAE topic model, each with the reason.

Keys are ``<file relative to the upstream tests folder>::<test name[params]>``. ``"xfail"`` tests still
run and must fail (strict), so a change that makes one pass is noticed; ``"skip"`` tests cannot run here.
A plugin bug is never a reason to be listed: it is fixed instead.
"""

NOT_APPLICABLE: dict[str, tuple[str, str]] = {}
