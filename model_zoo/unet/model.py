"""Small U-Net (Ronneberger et al. 2015) with padded convs, BatchNorm and ConvTranspose2d upsampling."""

from __future__ import annotations

import torch
from torch import nn

from model_zoo._common import check_size, image, image_axes

INPUT_NAMES = ["pixel_values"]
OUTPUT_NAMES = ["logits"]


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 2, base: int = 32, depth: int = 4):
        super().__init__()
        chans = [base * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, chans[0])
        self.pool = nn.MaxPool2d(2)
        self.downs = nn.ModuleList(DoubleConv(chans[i], chans[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(Up(chans[i + 1], chans[i]) for i in reversed(range(depth)))
        self.outc = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.inc(pixel_values)
        skips = [x]
        for down in self.downs:
            x = down(self.pool(x))
            skips.append(x)
        skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


def build(size: str = "full"):
    check_size(size)
    if size == "full":
        model, hw = UNet(3, 2, base=32, depth=4), 128
    else:
        model, hw = UNet(3, 2, base=8, depth=2), 32
    return model.eval(), (image(1, 3, hw, hw),), INPUT_NAMES, image_axes(INPUT_NAMES, OUTPUT_NAMES)
