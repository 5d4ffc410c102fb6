"""Zoo model `lstm` (see model.py / README.md)."""
