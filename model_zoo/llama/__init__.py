"""Zoo model `llama` (see model.py / README.md)."""
