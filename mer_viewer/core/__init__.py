"""Qt-free core: dataset, geometry, motion, sampling, flow, learning."""
