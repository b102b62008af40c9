"""medview: an offline radiology workstation."""

__version__ = "0.1.0"
