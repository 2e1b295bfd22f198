"""Library behind "Tutorial 04: Convolutional Neural Networks".

One module per idea, in the order data flows: ``data`` -> ``models`` ->
``train`` -> ``activations`` -> ``figures`` -> the book's pages. ``conv`` is
the from-scratch reference convolution of chapter 2; ``cifar`` and
``artifacts`` produce and read the cached CIFAR-10 results; ``display`` is
what pages use to show numbers, tables and cached results.
"""
__version__ = "0.1.0"
