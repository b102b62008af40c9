"""Headless sub-commands of ``medview`` (the argument parsing lives in medview.cli)."""
