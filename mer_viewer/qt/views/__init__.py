"""Widgets that draw: 2D image, 3D cloud and plot views, their overlays, legends and scrubber, figure and image export."""
