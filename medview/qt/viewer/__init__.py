"""The image viewer: viewports in a grid, overlays, measurements, cine, actions."""
