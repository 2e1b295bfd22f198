"""CIFAR-10's fixed names: its classes, the python release's folder and
files, the image tree's splits and the JPEG copy on the build machines.
Free of PyTorch, so the command line can name them in its help."""

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = (
    "batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
    "data_batch_4", "data_batch_5", "test_batch",
)
CIFAR10_SPLITS = ("train", "test")
SHARED_ARCHIVE = "../shared/data/cifar10-jpeg.tar.gz"
