"""Sequence models: scratch RNN/GRU/LSTM, minGRU/minLSTM, a nanoGPT, and the shared wrapper."""
