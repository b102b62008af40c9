"""medview: an offline radiology workstation."""

from medview.offline import disable_telemetry as _disable_telemetry

__version__ = "0.1.0"

# ONNX Runtime and OpenVINO phone home when they are imported unless switched off
# first; every entry point (GUI, CLI, trainer subprocess) imports this package first.
_disable_telemetry()
