"""Zoo model `vit_b16` (see model.py / README.md)."""
