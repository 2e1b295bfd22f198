import pytest
import torch

from cnn_tutorial import transforms


def test_permutation_moves_pixels_consistently():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    perm = transforms.pixel_permutation(4, 4, seed=0)
    y = transforms.permute_pixels(x, perm)
    assert sorted(y.flatten().tolist()) == sorted(x.flatten().tolist())
    flat_x, flat_y = x.reshape(2, 3, 16), y.reshape(2, 3, 16)
    assert torch.equal(flat_y, flat_x[:, :, perm])
    assert torch.equal(perm, transforms.pixel_permutation(4, 4, seed=0))
    with pytest.raises(ValueError, match="permutation"):
        transforms.permute_pixels(x, torch.zeros(16, dtype=torch.long))


def test_shift_images():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0
    y = transforms.shift_images(x, 2, -1)
    assert y[0, 0, 3, 0] == 1.0 and y.sum() == 1.0
    assert transforms.shift_images(x, 3, 0).sum() == 0     # moved out
    with pytest.raises(ValueError, match="out of view"):
        transforms.shift_images(x, 4, 0)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        transforms.shift_images(x[0], 1, 0)


def test_shifts_of():
    assert transforms.shifts_of(0) == [(0, 0)]
    assert sorted(transforms.shifts_of(2)) == [(-2, 0), (0, -2), (0, 2),
                                               (2, 0)]


def test_augmentation_is_random_per_group_and_reproducible():
    x = torch.rand(8, 1, 8, 8)
    out1 = transforms.augmentation(seed=0, group=1)(x)
    out2 = transforms.augmentation(seed=0, group=1)(x)
    assert out1.shape == x.shape and torch.equal(out1, out2)
    # every image got its own draw: identical inputs come out different
    same = x[:1].repeat(8, 1, 1, 1)
    varied = transforms.augmentation(seed=0, group=1)(same)
    assert len({tuple(v.flatten().tolist()) for v in varied}) > 1
    grouped = transforms.augmentation(seed=0, group=4)(same)
    assert torch.equal(grouped[0], grouped[3])
    state = torch.random.get_rng_state()
    transforms.augmentation(seed=5)(x)
    assert torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="group"):
        transforms.augmentation(group=0)


def test_augmentation_gives_exactly_torchvisions_images(digits):
    """The groups transformed together are, to the last bit, what one
    torchvision call per group gives with the same draws (the digits
    with the book's group of 4, a last group of 3, and CIFAR-sized
    colour images one at a time)."""
    from torchvision.transforms import v2

    for x, group in ((digits.train.x[:67], 4),
                     (torch.rand(5, 3, 32, 32), 1)):
        for seed in range(3):
            ours = transforms.augmentation(seed=seed, group=group)(x)
            generator = torch.Generator().manual_seed(seed)
            transform = v2.RandomAffine(degrees=10.0, translate=(0.25, 0.25))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(2**31, (1,),
                                                    generator=generator)))
                theirs = torch.cat([transform(c) for c in x.split(group)])
            assert torch.equal(ours, theirs), (x.shape, seed)
            assert not torch.equal(ours, x)
    with pytest.raises(ValueError, match="float images"):
        transforms.augmentation()(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


def test_crop_flip_is_a_padded_crop_with_optional_flip_per_image():
    from torchvision.transforms.v2 import functional as F

    x = torch.rand(16, 3, 8, 8) + 1.0          # no zeros inside the images
    out = transforms.crop_flip(padding=2, seed=0)(x)
    assert out.shape == x.shape
    padded = F.pad(x, [2])
    draws = set()
    for i in range(len(x)):
        matches = [
            (top, left, flip)
            for top in range(5) for left in range(5) for flip in (0, 1)
            if torch.equal(out[i], (F.horizontal_flip if flip else
                                    (lambda t: t))(
                F.crop(padded[i], top, left, 8, 8)))
        ]
        assert len(matches) == 1, i
        draws.add(matches[0])
    assert len(draws) > 4                          # a fresh draw per image
    assert any(flip for *_, flip in draws) and not all(
        flip for *_, flip in draws)
    again = transforms.crop_flip(padding=2, seed=0)(x)
    assert torch.equal(out, again)
    unpadded = transforms.crop_flip(padding=0, seed=1)(x)
    assert all(torch.equal(o, i) or torch.equal(o, i.flip(-1))
               for o, i in zip(unpadded, x))
    with pytest.raises(ValueError, match="padding"):
        transforms.crop_flip(padding=-1)


def test_crop_flip_can_mirror_the_edges_instead_of_padding_zeros():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = transforms.crop_flip(2, seed=0, mode="reflect")(x)
    padded = torch.nn.functional.pad(x, (2,) * 4, mode="reflect")
    # every image is some 6x6 window of its mirrored padding, maybe flipped
    for i in range(2):
        windows = [padded[i, :, r:r + 6, c:c + 6] for r in range(5)
                   for c in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1))
                   for w in windows)
    assert (out != 0).all()              # no zero padding came in
    with pytest.raises(ValueError, match="mode must be"):
        transforms.crop_flip(2, mode="wrap")


def test_alternating_flip_mirrors_each_image_every_other_time_it_is_seen():
    x = torch.rand(40, 3, 4, 4)
    augment = transforms.crop_flip(0, seed=0, alternate=True)
    everyone = torch.arange(40)
    first = augment(x, everyone)
    flipped = [not torch.equal(o, i) for o, i in zip(first, x)]
    assert 5 < sum(flipped) < 35                 # a random half, about
    # the next time, in any order and batching, each shows the other side
    order = torch.randperm(40)
    for batch in order.split(16):
        out = augment(x[batch], batch)
        for o, i in zip(out, batch):
            assert torch.equal(o, x[i] if flipped[i] else x[i].flip(-1))
    third = augment(x, everyone)
    assert torch.equal(third, first)
    with pytest.raises(ValueError, match="index of each"):
        augment(x)
