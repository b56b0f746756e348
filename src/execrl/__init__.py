"""execrl: reinforcement learning from execution feedback for code language models."""

__version__ = "0.1.0"
