"""Code shown in the chapter "Layers and Modules", one module per framework.

Import only the framework you use (``layers_modules.pytorch``, ``.jax``,
``.tensorflow``, ``.mxnet`` or ``.nnx``): each one runs in its own kernel.
This file imports no framework.
"""

SEED = 0
"""The seed every notebook of the chapter gives its framework."""

BATCH_SHAPE = (2, 20)
"""Shape of the example input batch ``X``: two examples, twenty features."""
