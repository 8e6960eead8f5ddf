"""The book machine: builds a multi-framework Jupyter Book from tagged MyST sources.

Stages, one module each:

- ``config``   -- the frameworks and settings read from ``_config.yml``;
- ``split``    -- a tagged MyST source -> one notebook per framework;
- ``execute``  -- run those notebooks, each in its framework's kernel, cached;
- ``merge``    -- executed notebooks -> one MyST page with framework tab-sets;
- ``export``   -- executed notebooks -> standalone notebooks for readers;
- ``launch``   -- Colab / Studio Lab / download links per page and framework;
- ``sphinx_extension`` -- hands the merged pages to Sphinx (Jupyter Book 1);
- ``cli``      -- ``python -m bookmachine build|kernels|notebooks-branch``.
"""

from .errors import BookError

__all__ = ["BookError"]
