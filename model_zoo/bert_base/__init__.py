"""Zoo model `bert_base` (see model.py / README.md)."""
