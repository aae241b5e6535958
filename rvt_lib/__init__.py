"""rvt_lib: the small from-scratch library behind the course *RNNs vs Transformers*.

    from rvt_lib.models import ModelSpec        # rnn, gru, lstm, mingru, minlstm, gpt; any head
    from rvt_lib.train import TrainConfig, fit, set_seed
    model = ModelSpec("lstm", vocab_size=65, d_model=64).build(seed=0)
    fit(model, batches, TrainConfig(steps=500, lr=3e-3))
    from rvt_lib.data import load_shakespeare   # pinned, hashed, cached; RVT_DATA_DIR offline
    from rvt_lib.budget import pick             # RVT_BUDGET = smoke | book | full

Nothing here downloads anything at import time.
"""
from rvt_lib.budget import get_budget, pick

__version__ = "0.1.0"
__all__ = ["get_budget", "pick", "__version__"]
