"""Zoo model `mobilenet_v2` (see model.py / README.md)."""
