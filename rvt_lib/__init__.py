"""rvt_lib: the small from-scratch library behind the course *RNNs vs Transformers*.

    from rvt_lib.models import make_model       # rnn, gru, lstm, mingru, minlstm, gpt
    from rvt_lib.train import fit, set_seed
    from rvt_lib.data import load_shakespeare   # pinned, hashed, cached; RVT_DATA_DIR offline
    from rvt_lib.budget import pick             # RVT_BUDGET = smoke | book | full

Nothing here downloads anything at import time.
"""
from rvt_lib.budget import get_budget, pick

__version__ = "0.1.0"
__all__ = ["get_budget", "pick", "__version__"]
