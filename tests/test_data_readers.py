"""chainrule.data: the IDX reader/writer, MNIST from generated IDX files, and the digits."""

import gzip

import numpy as np
import pytest

import chainrule
from chainrule.data import (
    MNIST,
    Digits,
    FashionMNIST,
    IDXError,
    digits,
    read_idx,
    upsample_bilinear,
    write_idx,
    write_mnist,
)
from chainrule.utils.data import DataLoader


def _fake_mnist(root, n=12, rows=28, seed=0, train=True, compress=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, rows, rows), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    paths = write_mnist(root, images, labels, train=train, compress=compress)
    return images, labels, paths


# ------------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    a = (np.arange(24).reshape(2, 3, 4) * 3 - 7).astype(dtype)
    write_idx(tmp_path / name, a)
    b = read_idx(tmp_path / name)
    assert b.dtype == a.dtype and b.dtype.isnative
    np.testing.assert_array_equal(b, a)


def test_idx_header_is_big_endian_with_the_standard_magic(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 5), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x02"  # two zeros, ubyte, 2 dims
    assert raw[4:12] == b"\x00\x00\x00\x03\x00\x00\x00\x05"
    assert len(raw) == 12 + 15


def test_gzip_is_detected_from_content_not_name(tmp_path):
    write_idx(tmp_path / "x.gz", np.ones((2, 2), np.uint8))
    (tmp_path / "x.gz").rename(tmp_path / "plain-name")
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), np.ones((2, 2)))


def test_bad_magic_names_the_file_and_the_expected_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(IDXError, match=r"bad: not an IDX file.*0x01020801.*0x00000803"):
        read_idx(tmp_path / "bad")


def test_unknown_type_code(tmp_path):
    (tmp_path / "t").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(IDXError, match=r"t: unknown IDX type code 0x07"):
        read_idx(tmp_path / "t")


def test_truncated_data_says_how_many_bytes_were_expected(tmp_path):
    write_idx(tmp_path / "img", np.zeros((4, 28, 28), np.uint8))
    raw = (tmp_path / "img").read_bytes()
    (tmp_path / "img").write_bytes(raw[:-100])
    with pytest.raises(
        IDXError, match=r"img: truncated data: shape \(4, 28, 28\).*3136 bytes.*3036"
    ):
        read_idx(tmp_path / "img")


def test_truncated_header(tmp_path):
    (tmp_path / "h").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(IDXError, match=r"h: truncated header: 3 dimensions need 16 bytes"):
        read_idx(tmp_path / "h")


def test_extra_bytes_are_an_error(tmp_path):
    write_idx(tmp_path / "e", np.zeros(5, np.uint8))
    (tmp_path / "e").write_bytes((tmp_path / "e").read_bytes() + b"xx")
    with pytest.raises(IDXError, match=r"e: 2 unexpected bytes after the data of shape \(5,\)"):
        read_idx(tmp_path / "e")


def test_truncated_gzip_names_the_file(tmp_path):
    write_idx(tmp_path / "z.gz", np.arange(1000, dtype=np.int32))
    raw = (tmp_path / "z.gz").read_bytes()
    (tmp_path / "z.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IDXError, match=r"z.gz: the file is gzip-compressed but cannot be unpacked"):
        read_idx(tmp_path / "z.gz")


def test_write_idx_refuses_int64(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


# ---------------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_generated_files(tmp_path, compress):
    images, labels, _ = _fake_mnist(tmp_path, compress=compress)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 12
    assert ds.data.dtype == chainrule.uint8 and tuple(ds.data.shape) == (12, 28, 28)
    assert ds.targets.dtype == chainrule.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    image, label = ds[3]
    assert tuple(image.shape) == (1, 28, 28) and image.dtype == chainrule.float32
    np.testing.assert_allclose(image.numpy()[0], images[3] / 255, rtol=1e-6)
    assert label == labels[3] and isinstance(label, int)


def test_mnist_test_split_and_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _, labels, _ = _fake_mnist(raw, n=5, train=False)
    ds = MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)


def test_mnist_dotted_mirror_names(tmp_path):
    rng = np.random.default_rng(1)
    write_idx(tmp_path / "train-images.idx3-ubyte", rng.integers(0, 255, (3, 28, 28)).astype("u1"))
    write_idx(tmp_path / "train-labels.idx1-ubyte", np.array([1, 2, 3], np.uint8))
    assert MNIST(tmp_path).targets.tolist() == [1, 2, 3]


def test_mnist_transforms_and_dataloader(tmp_path):
    images, labels, _ = _fake_mnist(tmp_path, n=10)
    ds = MNIST(tmp_path, transform=lambda x: x.float() / 255, target_transform=lambda y: y + 100)
    image, label = ds[0]
    assert tuple(image.shape) == (28, 28) and label == labels[0] + 100
    batch_x, batch_y = next(iter(DataLoader(MNIST(tmp_path), batch_size=4)))
    assert tuple(batch_x.shape) == (4, 1, 28, 28)
    np.testing.assert_array_equal(batch_y.numpy(), labels[:4])


def test_missing_file_lists_where_it_looked(tmp_path):
    _fake_mnist(tmp_path, train=True)
    with pytest.raises(FileNotFoundError) as e:
        MNIST(tmp_path, train=False)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte" in msg and str(tmp_path) in msg and "MNIST/raw" in msg
    assert "does not download" in msg


def test_missing_labels_file(tmp_path):
    _, _, (images_path, labels_path) = _fake_mnist(tmp_path)
    import os

    os.remove(labels_path)
    with pytest.raises(FileNotFoundError, match="no training labels file.*train-labels-idx1-ubyte"):
        MNIST(tmp_path)


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MNIST(tmp_path / "nowhere")


def test_download_is_refused_with_a_hint(tmp_path):
    with pytest.raises(RuntimeError, match="does not download"):
        MNIST(tmp_path, download=True)


def test_image_and_label_counts_must_match(tmp_path):
    write_mnist(tmp_path, np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(IDXError, match=r"4 images but .*train-labels-idx1-ubyte.gz has 3 labels"):
        MNIST(tmp_path)


def test_images_must_be_3d_uint8(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 784), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte: expected uint8 images of shape"):
        MNIST(tmp_path)


def test_labels_out_of_range(tmp_path):
    write_mnist(tmp_path, np.zeros((2, 28, 28), np.uint8), np.array([3, 12], np.uint8))
    with pytest.raises(IDXError, match="label 12 is out of range for 10 classes"):
        MNIST(tmp_path)


def test_corrupt_mnist_file_names_it(tmp_path):
    _, _, (images_path, _) = _fake_mnist(tmp_path, compress=False)
    with open(images_path, "r+b") as f:
        f.truncate(1000)
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte: truncated data"):
        MNIST(tmp_path)


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    _fake_mnist(tmp_path / "FashionMNIST" / "raw", n=4)
    ds = FashionMNIST(tmp_path)
    assert len(ds) == 4 and ds.classes[9] == "Ankle boot"


def test_write_mnist_gz_files_are_real_gzip(tmp_path):
    _, _, paths = _fake_mnist(tmp_path)
    for p in paths:
        with gzip.open(p) as f:
            assert f.read(2) == b"\x00\x00"


# --------------------------------------------------------------------------------- digits
def test_digits_split_is_fixed_stratified_and_disjoint():
    x_train, y_train = digits("train")
    x_test, y_test = digits("test")
    x_all, y_all = digits("all")
    assert x_train.shape == (1438, 1, 16, 16) and x_test.shape == (359, 1, 16, 16)
    assert len(y_all) == 1797 and x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0 <= x_all.min() and x_all.max() <= 1
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # about 20% of each digit
    # disjoint and covering: every image appears exactly once
    both = np.concatenate([x_train, x_test]).reshape(1797, -1)
    assert len(np.unique(both, axis=0)) == len(np.unique(x_all.reshape(1797, -1), axis=0))
    x_again, y_again = digits("test")
    np.testing.assert_array_equal(x_again, x_test)
    np.testing.assert_array_equal(y_again, y_test)


def test_digits_size_8_is_the_original_scan():
    x, _ = digits("all", size=8)
    from sklearn.datasets import load_digits

    np.testing.assert_allclose(x[:, 0], load_digits().images / 16, rtol=1e-6)


def test_digits_bad_split():
    with pytest.raises(ValueError, match="split must be"):
        digits("validation")


def test_digits_dataset_class():
    ds = Digits(train=False)
    assert len(ds) == 359
    image, label = ds[0]
    assert tuple(image.shape) == (1, 16, 16) and isinstance(label, int)
    x, y = next(iter(DataLoader(ds, batch_size=8)))
    assert tuple(x.shape) == (8, 1, 16, 16) and y.dtype == chainrule.int64


def test_upsample_bilinear_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(a)[:, None], size=(16, 16), mode="bilinear", align_corners=False
    )[:, 0].numpy()
    np.testing.assert_allclose(upsample_bilinear(a, 16), want, atol=1e-6)


def test_digits_fallback_through_load_digits_gives_the_same_data(monkeypatch):
    import chainrule.data.sklearn_digits as module

    direct = digits("all")
    module._load_sklearn.cache_clear()
    monkeypatch.setattr(module.os.path, "isfile", lambda path: False)
    try:
        fallback = digits("all")
    finally:
        module._load_sklearn.cache_clear()
    np.testing.assert_array_equal(direct[0], fallback[0])
    np.testing.assert_array_equal(direct[1], fallback[1])


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    import chainrule.data.sklearn_digits as module

    module._load_sklearn.cache_clear()
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
    try:
        with pytest.raises(ImportError, match=r"pip install 'chainrule\[data\]'"):
            digits()
    finally:
        module._load_sklearn.cache_clear()
