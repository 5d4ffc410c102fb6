"""Zoo model `unet` (see model.py / README.md)."""
