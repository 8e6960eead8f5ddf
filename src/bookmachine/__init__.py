"""The book machine: builds a multi-framework Jupyter Book from tagged MyST sources.

Stages, one module each:

- ``config``   -- the frameworks and settings (``_config.yml``, environment), paths under _build;
- ``toc``      -- the pages ``_toc.yml`` lists, in order;
- ``split``    -- a tagged MyST source -> one notebook per framework;
- ``job``      -- one framework's notebook of one page, as execute, merge and export share it;
- ``execute``  -- run those notebooks, each in its framework's kernel, cached;
- ``tabs``     -- consecutive framework cells -> one synced tab-set (and solutions);
- ``merge``    -- executed notebooks -> one MyST page with framework tab-sets;
- ``export``   -- executed notebooks -> standalone notebooks for readers;
- ``launch``   -- Colab / Studio Lab / download links per page and framework;
- ``library``  -- the classes a page shows agree with src/ (checked at build time);
- ``pipeline`` -- the stages in order;
- ``publish``  -- the notebooks branch's tree (README with launch badges);
- ``kernels``  -- one Jupyter kernel per framework, in its own environment;
- ``mathjax``  -- the site serves its own MathJax (pages read offline);
- ``sphinx_extension`` -- hands the merged pages to Sphinx (Jupyter Book 1);
- ``cli``      -- ``python -m bookmachine build|check|kernels|notebooks-branch``.
"""

from .errors import BookError

__all__ = ["BookError"]
