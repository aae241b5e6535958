"""Sequence models: scratch RNN/GRU/LSTM, minGRU/minLSTM (positive or signed), a complex-diagonal
LRU, DeltaNet, linear attention, a nanoGPT, and the shared wrapper.

Every core follows one interface, ``y, state = core(x, state=None)`` with ``x`` of shape
``(batch, time, features)``; :func:`make_model` wraps any of them with an input layer and a
head, so that experiments swap models with one argument; :class:`ModelSpec` is the recipe
of one model (``spec.build(seed)``, ``spec.n_params()``) and :func:`match_parameters`
sizes models to a common parameter count.
"""
from rvt_lib.models.rnn import RNN, RNNCell, RNNConfig
from rvt_lib.models.gru import GRU, GRUCell, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMCell, LSTMConfig
from rvt_lib.models.mingru import MinGRU, MinGRUConfig, MinLSTM, MinLSTMConfig
from rvt_lib.models.gpt import GPT, GPTConfig
from rvt_lib.models.lru import LRU, LRUConfig
from rvt_lib.models.deltanet import DeltaNet, DeltaNetConfig
from rvt_lib.models.linear_attention import LinearAttention, LinearAttentionConfig
from rvt_lib.models.heads import KIND_NAMES, KINDS, ModelSpec, SequenceModel, make_model, match_parameters

__all__ = [
    "RNN", "RNNCell", "RNNConfig", "GRU", "GRUCell", "GRUConfig", "LSTM", "LSTMCell",
    "LSTMConfig", "MinGRU", "MinGRUConfig", "MinLSTM", "MinLSTMConfig", "GPT", "GPTConfig",
    "LRU", "LRUConfig", "DeltaNet", "DeltaNetConfig", "LinearAttention", "LinearAttentionConfig",
    "KIND_NAMES", "KINDS", "ModelSpec", "SequenceModel", "make_model", "match_parameters",
]
