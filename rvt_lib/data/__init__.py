"""Datasets: a pinned registry (URL + SHA-256, pooch cache, RVT_DATA_DIR) and loaders."""
