"""Zoo model `whisper_encoder_decoder` (see model.py / README.md)."""
