"""Zoo model `moe_decoder` (see model.py / README.md)."""
