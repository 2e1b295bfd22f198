import numpy as np
import pytest
import torch

from cnn_tutorial import data


def test_digits_shapes_and_range(digits):
    assert digits.image_shape == (1, 8, 8)
    assert len(digits.train) + len(digits.test) == 1797
    assert digits.train.x.dtype == torch.float32
    assert 0 <= digits.train.x.min() and digits.train.x.max() <= 1


def test_digits_split_is_fixed_and_stratified(digits):
    again = data.digits()
    assert torch.equal(again.test.x, digits.test.x)
    other = data.digits(seed=1)
    assert not torch.equal(other.test.y, digits.test.y)
    train_frac = np.bincount(digits.train.y) / len(digits.train)
    test_frac = np.bincount(digits.test.y) / len(digits.test)
    assert np.abs(train_frac - test_frac).max() < 0.01


def test_sample_photo():
    full = data.sample_photo()
    assert full.shape == (3, 427, 640)
    small = data.sample_photo(size=16)
    assert small.shape == (3, 16, 16)
    assert 0 <= small.min() and small.max() <= 1
    with pytest.raises(ValueError):
        data.sample_photo(size=0)


def test_missing_cifar_raises_with_instructions(tmp_path):
    with pytest.raises(data.CIFARDataMissing) as err:
        data.cifar10(tmp_path / "nowhere")
    message = str(err.value)
    assert str((tmp_path / "nowhere" / "cifar-10-batches-py").resolve()) in message
    assert "data_batch_1" in message and "test_batch" in message
    assert "--download" in message


def test_cifar_loads_real_format(fake_cifar):
    ds = data.cifar10(fake_cifar, normalize=False)
    assert ds.train.x.shape == (100, 3, 32, 32)
    assert ds.test.x.shape == (30, 3, 32, 32)
    assert ds.classes == data.CIFAR10_CLASSES
    # channel order: the pickle stores each row as R plane, G plane, B plane
    import pickle
    with open(fake_cifar / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="latin1")["data"][0].reshape(3, 32, 32)
    assert torch.allclose(ds.test.x[0] * 255, torch.from_numpy(raw).float())
    normed = data.cifar10(fake_cifar)
    assert torch.allclose(data.denormalize_cifar(normed.test.x), ds.test.x,
                          atol=1e-5)
