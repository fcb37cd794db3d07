"""mer_viewer: micro-expression recognition from depth point clouds (CAS(ME)³)."""

__version__ = "0.1.0"
