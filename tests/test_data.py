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


def test_missing_cifar_raises_with_both_ways_to_get_it(tmp_path):
    with pytest.raises(data.CIFARDataMissing) as err:
        data.cifar10_images(tmp_path / "nowhere")
    message = str(err.value)
    assert str((tmp_path / "nowhere").resolve()) in message
    assert "cifar-10-batches-py" in message and "train/<class>" in message
    assert f"--images {data.SHARED_ARCHIVE}" in message
    assert "--download" in message


def test_cifar_loads_the_python_release(fake_cifar):
    images, source = data.cifar10_images(fake_cifar)
    assert source.kind == "python-release" and len(source.files) == 7
    assert images.train.x.shape == (100, 3, 32, 32)
    assert images.train.x.dtype == torch.uint8
    assert images.test.x.shape == (30, 3, 32, 32)
    assert images.classes == data.CIFAR10_CLASSES
    # channel order: the pickle stores each row as R plane, G plane, B plane
    import pickle
    with open(fake_cifar / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="latin1")["data"][0].reshape(3, 32, 32)
    assert torch.equal(images.test.x[0], torch.from_numpy(raw))
    alone = data.cifar10_test_images(fake_cifar)
    assert torch.equal(alone.x, images.test.x)
    assert torch.equal(alone.y, images.test.y)


def test_image_archive_and_folder_give_the_same_images(tmp_path):
    from conftest import write_fake_image_tree
    from torchvision.io import decode_jpeg

    tree = write_fake_image_tree(tmp_path / "a")
    archive = write_fake_image_tree(tmp_path / "b", archive=True)
    from_tree, source = data.cifar10_images(tree)
    assert source.kind == "image-folder"
    # the parent folder works too: the tree is found one level down
    assert data.find_cifar10(tmp_path / "a").path == tree
    from_archive, source = data.cifar10_images(archive)
    assert source.kind == "image-archive" and source.files == (archive,)
    for split in ("train", "test"):
        a, b = getattr(from_tree, split), getattr(from_archive, split)
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert from_tree.train.x.shape == (100, 3, 32, 32)
    assert torch.bincount(from_tree.test.y).tolist() == [3] * 10
    # labels follow CIFAR-10's class order; pixels are torchvision's decode
    cat = data.CIFAR10_CLASSES.index("cat")
    first_cat = int((from_tree.train.y == cat).nonzero()[0])
    encoded = (tree / "train/cat/0000.jpg").read_bytes()
    expected = decode_jpeg(torch.frombuffer(bytearray(encoded),
                                            dtype=torch.uint8))
    assert torch.equal(from_tree.train.x[first_cat], expected)


def test_the_test_split_alone_is_read_without_the_training_images(tmp_path):
    """``cifar10_test_images`` gives the test split ``cifar10_images``
    gives, from a tree or its archive, and never decodes a training image
    (an unreadable one does not stop it)."""
    from conftest import write_fake_image_tree

    tree = write_fake_image_tree(tmp_path / "a")
    expected = data.cifar10_images(tree)[0].test
    (tree / "train/cat/0000.jpg").write_bytes(b"not a JPEG")
    archive = write_fake_image_tree(tmp_path / "b", archive=True)
    for path in (tree, archive):
        alone = data.cifar10_test_images(path)
        assert torch.equal(alone.x, expected.x), path
        assert torch.equal(alone.y, expected.y), path
    with pytest.raises(data.CIFARDataError, match="cat/0000.jpg"):
        data.cifar10_images(tree)


@pytest.fixture
def tree(tmp_path):
    from conftest import write_fake_image_tree

    return write_fake_image_tree(tmp_path, train_per_class=2,
                                 test_per_class=1)


def test_wrong_class_folders_are_named(tree):
    (tree / "train/cat").rename(tree / "train/kitten")
    with pytest.raises(data.CIFARDataError,
                       match=r"unexpected \['kitten'\], missing \['cat'\]"):
        data.cifar10_images(tree)


def test_empty_split_is_reported(tree):
    for file in (tree / "test").glob("*/*"):
        file.unlink()
    with pytest.raises(data.CIFARDataError, match="test split .* no images"):
        data.cifar10_images(tree)


def test_split_without_a_class_is_reported(tree):
    (tree / "test/frog/0000.jpg").unlink()
    with pytest.raises(data.CIFARDataError,
                       match="test split has no images of class frog"):
        data.cifar10_images(tree)


def test_unreadable_and_wrong_sized_images_are_named(tree):
    from torchvision.io import encode_jpeg

    bad = tree / "train/dog/0001.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(data.CIFARDataError,
                       match=r"train/dog/0001.jpg is not a readable image"):
        data.cifar10_images(tree)
    small = torch.zeros(3, 16, 16, dtype=torch.uint8)
    bad.write_bytes(encode_jpeg(small).numpy().tobytes())
    with pytest.raises(data.CIFARDataError,
                       match=r"0001.jpg is not a 32x32 RGB image.*3, 16, 16"):
        data.cifar10_images(tree)
    gray = torch.zeros(1, 32, 32, dtype=torch.uint8)
    bad.write_bytes(encode_jpeg(gray).numpy().tobytes())
    with pytest.raises(data.CIFARDataError, match=r"\[1, 32, 32\]"):
        data.cifar10_images(tree)


def test_python_release_without_a_class_in_test_is_reported(tmp_path,
                                                            monkeypatch):
    from conftest import skip_md5_check, write_fake_cifar

    skip_md5_check(monkeypatch)
    root = write_fake_cifar(tmp_path, n_test=5)       # classes 0-4 only
    with pytest.raises(data.CIFARDataError, match="no images of class dog"):
        data.cifar10_images(root)


def test_hold_out_is_stratified_and_fixed():
    y = torch.arange(100) % 10
    split = data.Split(torch.arange(100).float()[:, None], y)
    fit, val = data.hold_out(split, 20, seed=0)
    assert len(fit) == 80 and len(val) == 20
    assert torch.bincount(val.y).tolist() == [2] * 10
    assert set(fit.x.flatten().tolist()).isdisjoint(val.x.flatten().tolist())
    again = data.hold_out(split, 20, seed=0)[1]
    assert torch.equal(again.x, val.x)
    with pytest.raises(ValueError, match="n_val"):
        data.hold_out(split, 100)


def test_normalization_statistics_and_round_trip():
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8,
                      generator=generator)
    x[:, 0] //= 2                                   # channels differ
    norm = data.Normalization.of(x)
    for c in range(3):
        channel = x[:, c].double() / 255
        assert norm.mean[c] == pytest.approx(channel.mean().item())
        assert norm.std[c] == pytest.approx(channel.std().item())
    assert norm.mean[0] < norm.mean[1]
    applied = norm.apply(data.Split(x, torch.zeros(50)))
    assert applied.x.dtype == torch.float32
    assert applied.x.mean(dim=(0, 2, 3)).abs().max() < 1e-5
    assert torch.allclose(applied.x.std(dim=(0, 2, 3)), torch.ones(3),
                          atol=1e-4)
    assert torch.allclose(norm.undo(applied.x) * 255, x.float(), atol=1e-3)
    assert torch.allclose(norm.undo(applied.x[0]) * 255, x[0].float(),
                          atol=1e-3)
