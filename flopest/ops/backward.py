"""Autograd's backward operators (PyTorch aten names: they have no ONNX counterpart).
Each docstring gives the per-element count; the arithmetic is that of the gradient formula."""

from __future__ import annotations
