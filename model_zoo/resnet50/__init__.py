"""Zoo model `resnet50` (see model.py / README.md)."""
