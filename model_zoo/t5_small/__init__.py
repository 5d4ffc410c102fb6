"""Zoo model `t5_small` (see model.py / README.md)."""
