"""The models the book trains: the tutorial's MLP and 2-conv-block CNN, and
the conv-heavy network with a global-average-pooling head that tops the
CIFAR-10 ladder."""
from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Flatten the image, then fully connected layers with ReLU.

    ``MLP(3 * 32 * 32, hidden=(512, 256))`` is the tutorial's 3-layer
    CIFAR-10 MLP (about 1.7 M parameters).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (512, 256),
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        if in_features < 1 or n_classes < 1 or any(h < 1 for h in hidden):
            raise ValueError(
                "in_features, hidden sizes and n_classes must be >= 1, got "
                f"{in_features}, {tuple(hidden)}, {n_classes}"
            )
        self.in_features = in_features
        sizes = [in_features, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_in = x[0].numel() if x.dim() > 1 else 0
        if x.dim() < 2 or n_in != self.in_features:
            raise ValueError(
                f"MLP expects a batch of {self.in_features} features per "
                f"example, got a tensor of shape {tuple(x.shape)}"
            )
        return self.net(x)


def conv_block(
    c_in: int, c_out: int, batch_norm: bool = False
) -> nn.Sequential:
    """conv 3x3 (padding 1, keeps H and W) -> [BatchNorm] -> ReLU -> 2x2 max
    pool (halves H and W)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers += [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


class TwoBlockCNN(nn.Module):
    """Two conv blocks, then a small fully connected classifier.

    Each block keeps the size through its padded 3x3 conv and halves it by
    pooling: 32x32 -> 16x16 -> 8x8 for CIFAR-10 (``TwoBlockCNN(3, 32)``),
    8x8 -> 4x4 -> 2x2 for the digits (``TwoBlockCNN(1, 8)``).
    ``head="gap"`` replaces the dense head by global average pooling (each
    channel's mean over all positions) and one linear layer.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        widths: tuple[int, int] = (32, 64),
        hidden: int = 64,
        n_classes: int = 10,
        batch_norm: bool = False,
        head: str = "dense",
    ) -> None:
        super().__init__()
        if head not in ("dense", "gap"):
            raise ValueError(f"head must be 'dense' or 'gap', got {head!r}")
        if image_size < 4 or image_size % 4:
            raise ValueError(
                "two 2x2 pooling stages need an image size divisible by 4, "
                f"got {image_size}"
            )
        self.in_channels = in_channels
        self.image_size = image_size
        c1, c2 = widths
        self.block1 = conv_block(in_channels, c1, batch_norm)
        self.block2 = conv_block(c1, c2, batch_norm)
        side = image_size // 4
        if head == "gap":
            self.classifier = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                nn.Linear(c2, n_classes))
        else:
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(c2 * side * side, hidden),
                nn.ReLU(),
                nn.Linear(hidden, n_classes),
            )

    @property
    def conv1(self) -> nn.Conv2d:
        """The first convolution, whose filters chapter 4 looks at."""
        return self.block1[0]

    @property
    def conv2(self) -> nn.Conv2d:
        """The second convolution."""
        return self.block2[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"TwoBlockCNN expects [N, {expected[0]}, {expected[1]}, "
                f"{expected[2]}] input, got {tuple(x.shape)}"
            )
        return self.classifier(self.block2(self.block1(x)))


def digits_mlp(seed: int = 0) -> MLP:
    """The MLP the live cells train on the 8x8 digits (64 -> 512 -> 256 ->
    10), initialised from ``seed``."""
    torch.manual_seed(seed)
    return MLP(64, hidden=(512, 256))


def digits_cnn(batch_norm: bool = False, seed: int = 0,
               head: str = "dense") -> TwoBlockCNN:
    """The 2-conv-block CNN for 8x8 digits (8x8 -> 4x4 -> 2x2 maps),
    initialised from ``seed``: the same call gives the same weights on
    every page. ``head="gap"``: global average pooling instead of the dense
    head."""
    torch.manual_seed(seed)
    return TwoBlockCNN(1, 8, widths=(32, 64), hidden=64,
                       batch_norm=batch_norm, head=head)


def digits_models(seed: int = 0) -> dict[str, nn.Module]:
    """The MLP and CNN the live cells compare on the 8x8 digits, each
    initialised from ``seed`` by its own constructor."""
    return {"MLP": digits_mlp(seed), "CNN": digits_cnn(seed=seed)}


def lenet5(seed: int = 0) -> nn.Sequential:
    """LeNet-5 (LeCun et al. 1998) for 1 x 32 x 32 images, as it is
    usually rebuilt today (chapter 3): the paper's layer sizes, with ReLU
    and max pooling for its scaled tanh and trainable subsampling, every C3
    map connected to all six S2 maps, and a linear output layer."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict([
        ("C1", nn.Conv2d(1, 6, 5)), ("relu1", nn.ReLU()),
        ("S2", nn.MaxPool2d(2)),
        ("C3", nn.Conv2d(6, 16, 5)), ("relu3", nn.ReLU()),
        ("S4", nn.MaxPool2d(2)),
        ("C5", nn.Conv2d(16, 120, 5)), ("relu5", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("F6", nn.Linear(120, 84)), ("relu6", nn.ReLU()),
        ("output", nn.Linear(84, 10)),
    ]))


def permuted_twin(mlp: MLP, perm: torch.Tensor) -> MLP:
    """A copy of ``mlp`` whose first layer reads pixels permuted by
    ``perm``: ``twin(permute_pixels(x, perm)) == mlp(x)`` for every
    single-channel ``x``, up to float rounding."""
    twin = copy.deepcopy(mlp)
    first = twin.net[1]
    if first.in_features != len(perm):
        raise ValueError(f"perm has {len(perm)} positions, the first layer "
                         f"{first.in_features} inputs")
    with torch.no_grad():
        first.weight.copy_(first.weight[:, perm])
    return twin


def pretrained_backbone(
    n_classes: int = 10, weights=None, freeze: bool = True
) -> nn.Module:
    """torchvision's ResNet-18 with a new ``n_classes`` head.

    ``weights=None`` builds it without downloading anything; with
    ``weights=ResNet18_Weights.DEFAULT`` (online) torchvision fetches the
    ImageNet weights. ``freeze`` leaves only the new head trainable.
    """
    from torchvision.models import resnet18

    model = resnet18(weights=weights)
    if freeze:
        for p in model.parameters():
            p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, n_classes)
    return model


def cifar_mlp(seed: int = 0) -> MLP:
    """The tutorial's 3-layer CIFAR-10 MLP (3 072 -> 512 -> 256 -> 10),
    initialised from ``seed``."""
    torch.manual_seed(seed)
    return MLP(3 * 32 * 32, hidden=(512, 256))


def cifar_cnn(batch_norm: bool = False, seed: int = 0) -> TwoBlockCNN:
    """The tutorial's 2-conv-block CIFAR-10 CNN (32x32 -> 16x16 -> 8x8
    maps), initialised from ``seed``."""
    torch.manual_seed(seed)
    return TwoBlockCNN(3, 32, widths=(32, 64), hidden=64,
                       batch_norm=batch_norm)


def cifar_models(seed: int = 0) -> dict[str, nn.Module]:
    """The tutorial's CIFAR-10 pair: 3-layer MLP and 2-conv-block CNN."""
    return {"MLP": cifar_mlp(seed), "CNN": cifar_cnn(seed=seed)}


def conv_bn_relu(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    """conv 3x3 (padding 1, no bias: BatchNorm adds its own shift) ->
    [2x2 max pool] -> BatchNorm -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1,
                                         bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers)


class GapCNN(nn.Module):
    """A conv-heavy network with a global-average-pooling head.

    A stem convolution, then one block per width, each two 3x3 convolutions
    with a 2x2 max pool after the first (32x32 -> 16x16 -> 8x8 -> 4x4 for
    widths (32, 64, 128)); the head averages each channel over the whole map
    and a single linear layer maps the channel means to class scores. Its
    parameters sit in convolutions, not in a large dense layer.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (32, 64,
                 128), n_classes: int = 10) -> None:
        super().__init__()
        if in_channels < 1 or n_classes < 1 or not widths or min(widths) < 1:
            raise ValueError(
                "in_channels, widths and n_classes must be >= 1, got "
                f"{in_channels}, {tuple(widths)}, {n_classes}")
        self.in_channels = in_channels
        blocks = [conv_bn_relu(in_channels, widths[0])]
        for c_in, c_out in zip([widths[0], *widths[:-1]], widths):
            blocks.append(nn.Sequential(conv_bn_relu(c_in, c_out, pool=True),
                                        conv_bn_relu(c_out, c_out)))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(widths[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"GapCNN expects [N, {self.in_channels}, H, W] input, got "
                f"{tuple(x.shape)}")
        return self.head(self.features(x))


def cifar_gap_cnn(seed: int = 0, n_classes: int = 10) -> GapCNN:
    """The ladder's conv-heavy CIFAR-10 network (widths 32/64/128, about
    298 k parameters), initialised from ``seed``."""
    torch.manual_seed(seed)
    return GapCNN(3, (32, 64, 128), n_classes)


def patch_whitening(images: torch.Tensor, out_channels: int = 24,
                    kernel: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Filters that whiten ``kernel`` x ``kernel`` patches of ``images``
    ([N, C, H, W]): the covariance's eigenvectors scaled by 1/sqrt(eigenvalue
    + eps), the ``out_channels // 2`` strongest, each with its negative (so a
    ReLU-like activation after them loses no sign). Shape [out_channels, C,
    kernel, kernel]."""
    if images.dim() != 4:
        raise ValueError(
            f"images must be [N, C, H, W], got {tuple(images.shape)}")
    c = images.shape[1]
    n_dirs = c * kernel * kernel
    if out_channels % 2 or not 2 <= out_channels <= 2 * n_dirs:
        raise ValueError(f"out_channels must be even and at most {2 * n_dirs}"
                         f" for {c}-channel {kernel}x{kernel} patches, got "
                         f"{out_channels}")
    patches = (images.double().unfold(2, kernel, 1).unfold(3, kernel, 1)
               .permute(0, 2, 3, 1, 4, 5).reshape(-1, n_dirs))
    covariance = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    order = eigenvalues.argsort(descending=True)[:out_channels // 2]
    filters = (eigenvectors[:, order].T
               / torch.sqrt(eigenvalues[order] + eps)[:, None])
    filters = filters.reshape(-1, c, kernel, kernel).float()
    return torch.cat([filters, -filters])


class FrozenScaleBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose scale stays 1 (only the shift is learned), with the
    running statistics following the batches closely (momentum 0.4)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-12, momentum=0.4)
        self.weight.requires_grad_(False)


class DiracConv(nn.Conv2d):
    """A 3x3 convolution (padding 1, no bias) initialised so that its first
    ``in_channels`` filters pass their input channel through unchanged."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, padding=1, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            nn.init.dirac_(self.weight[:min(self.in_channels,
                                            self.out_channels)])


class Scale(nn.Module):
    """Multiply by a constant (no parameters)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


ACTIVATIONS = {"relu": nn.ReLU, "gelu": lambda: nn.GELU(approximate="tanh")}


class WhitenedCNN(nn.Module):
    """The fast CIFAR-10 network of the ladder's top, after Keller Jordan's
    airbench: a fixed 2x2 patch-whitening stem (no padding: 32x32 -> 31x31),
    then one block per width -- conv, 2x2 max pool, BatchNorm, activation,
    conv, BatchNorm, activation (31 -> 15 -> 7 -> 3) -- and a head that
    takes each channel's maximum and maps it linearly to class scores,
    scaled by 1/9. Call :meth:`whiten` with training images before
    training; the stem is never trained (its bias is)."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128),
                 activation: str = "gelu", stem_width: int = 24,
                 n_classes: int = 10) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)},"
                             f" got {activation!r}")
        if not widths or min(widths) < 1 or n_classes < 1:
            raise ValueError(f"widths and n_classes must be >= 1, got "
                             f"{tuple(widths)}, {n_classes}")
        act = ACTIVATIONS[activation]
        self.stem = nn.Sequential(nn.Conv2d(3, stem_width, 2), act())
        self.stem[0].weight.requires_grad_(False)
        blocks = []
        for c_in, c_out in zip([stem_width, *widths[:-1]], widths):
            blocks.append(nn.Sequential(
                DiracConv(c_in, c_out), nn.MaxPool2d(2),
                FrozenScaleBatchNorm(c_out), act(),
                DiracConv(c_out, c_out), FrozenScaleBatchNorm(c_out), act()))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                                  nn.Linear(widths[-1], n_classes, bias=False),
                                  Scale(1 / 9))

    @torch.no_grad()
    def whiten(self, images: torch.Tensor) -> WhitenedCNN:
        """Set the stem's filters from ``images`` (standardised training
        images); returns the model."""
        conv = self.stem[0]
        conv.weight.copy_(patch_whitening(images, conv.out_channels))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"WhitenedCNN expects [N, 3, H, W] input, got "
                             f"{tuple(x.shape)}")
        return self.head(self.features(self.stem(x)))


def cifar_whitened_cnn(seed: int = 0, activation: str = "gelu",
                       n_classes: int = 10) -> WhitenedCNN:
    """The ladder's whitened CIFAR-10 network (widths 32/64/128, about
    295 k parameters), initialised from ``seed`` (whiten it before
    training)."""
    torch.manual_seed(seed)
    return WhitenedCNN((32, 64, 128), activation, n_classes=n_classes)
