"""Harness that runs BERTopic v0.17.4's own test suite against the plugin (see plugin.py)."""
