"""Zoo model `einsum_attention` (see model.py / README.md)."""
