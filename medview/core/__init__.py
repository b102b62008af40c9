"""File → study → pixels → display. Imports neither Qt nor torch (a test enforces it)."""
