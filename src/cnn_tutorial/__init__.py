"""Library behind "Tutorial 04: Convolutional Neural Networks".

One module per idea, in the order data flows: ``data`` -> ``models`` ->
``train`` -> ``activations`` -> ``figures`` -> the book's pages. ``conv`` is
the from-scratch reference convolution of chapter 2; the ``cifar``
subpackage trains CIFAR-10 once (``python -m cnn_tutorial.cifar``) and reads
the cached results back; ``display`` formats what the pages show.
"""
__version__ = "0.1.0"
