"""LeNet-5 with the geometry of LeCun et al. (1998), in PyTorch.

1×32×32 → C1 6@28×28 (5×5 conv) → S2 6@14×14 (2×2 pool) → C3 16@10×10 (5×5 conv)
→ S4 16@5×5 → C5 120 (5×5 conv, so 120@1×1) → F6 84 → 10 outputs.

Two modern choices differ from the paper and are standard in its ports: ReLU
instead of the scaled tanh, and max pooling instead of trainable averaging. C3
connects to all six S2 maps (the paper's sparse table was a 1998 economy).
"""

from __future__ import annotations

import torch
from torch import nn

# Names of the activations the exported model returns, in order, and what each is.
ACTIVATIONS = {
    "c1": "C1: 6 feature maps, 5×5 convolution of the input, ReLU",
    "s2": "S2: 2×2 max pooling of C1",
    "c3": "C3: 16 feature maps, 5×5 convolution of S2, ReLU",
    "s4": "S4: 2×2 max pooling of C3",
    "c5": "C5: 120 units, 5×5 convolution of S4 (one value per map), ReLU",
    "f6": "F6: 84 units, fully connected, ReLU",
}


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)
        self.s2 = nn.MaxPool2d(2)
        self.c3 = nn.Conv2d(6, 16, kernel_size=5)
        self.s4 = nn.MaxPool2d(2)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)
        self.dropout = nn.Dropout(0.1)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c1 = torch.relu(self.c1(x))
        s2 = self.s2(c1)
        c3 = torch.relu(self.c3(s2))
        s4 = self.s4(c3)
        c5 = torch.relu(self.c5(s4))
        f6 = torch.relu(self.f6(torch.flatten(c5, 1)))
        logits = self.output(self.dropout(f6))
        return logits, c1, s2, c3, s4, c5, f6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]


class WithActivations(nn.Module):
    """The export wrapper: logits and every layer's activation from one run."""

    def __init__(self, net: LeNet5) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        return self.net.features(x)
