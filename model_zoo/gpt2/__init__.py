"""Zoo model `gpt2` (see model.py / README.md)."""
