"""rvt_lib: the small from-scratch library behind the course *RNNs vs Transformers*.

Nothing here downloads anything at import time.
"""
from rvt_lib.budget import get_budget, pick

__version__ = "0.1.0"
__all__ = ["get_budget", "pick", "__version__"]
