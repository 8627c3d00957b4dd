"""gen: find and ship a working PyTorch + CUDA + flash-attention image for a GPU."""

__version__ = "0.1.0"
