"""Zoo model `diffusion_unet_block` (see model.py / README.md)."""
