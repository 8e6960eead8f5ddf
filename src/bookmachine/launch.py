"""Stage 6: where a reader can run each page's notebook, per framework."""

from __future__ import annotations

from urllib.parse import quote

from .config import REPOSITORY_ENV, BookConfig, Framework, published_repository
from .errors import BookError
from .export import notebook_name

SERVICES = {
    "colab": ("Open in Colab", "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"),
    "studiolab": ("Open in Studio Lab",
                  "https://studiolab.sagemaker.aws/import/github/{repo}/blob/{branch}/{path}"),
}
DOWNLOAD_DIR = "_notebooks"  # where the site keeps a copy of each notebook


def github_repo(config: BookConfig) -> str:
    """``owner/name`` of the repository the notebooks branch lives in.

    In CI, a link to any repository but the one being published is an error: readers
    would open another repository's notebooks (or a placeholder's 404).
    """
    url = config.repository_url
    prefix = "https://github.com/"
    if not url.startswith(prefix):
        raise BookError(f"repository.url must be a GitHub URL, not {url!r}", path="_config.yml")
    repo = url[len(prefix):].removesuffix(".git")
    published = published_repository()
    if published and repo.lower() != published.lower():
        raise BookError(f"launch links would point at {repo}, but CI publishes {published} "
                        f"(${REPOSITORY_ENV}); the repository URL comes from {config.repository_source}")
    return repo


def branch_path(framework: Framework, docname: str) -> str:
    """A notebook's path inside the notebooks branch."""
    return f"{framework.key}/{notebook_name(docname)}.ipynb"


def launch_links(config: BookConfig, framework: Framework, docname: str,
                 folder: str = "") -> list[tuple[str, str, str]]:
    """(service, label, URL) for each hosted service that can run this framework.

    ``folder`` is a folder of the notebooks branch the notebook sits in (``student/``).
    """
    path = quote(folder + branch_path(framework, docname))
    links = []
    for service in framework.launch:
        if service not in SERVICES:
            raise BookError(f"unknown launch service '{service}'; known: {', '.join(SERVICES)}",
                            path="_config.yml", framework=framework.key)
        label, pattern = SERVICES[service]
        url = pattern.format(repo=github_repo(config), branch=config.notebooks_branch, path=path)
        links.append((service, label, url))
    return links


def download_href(framework: Framework, docname: str) -> str:
    """Relative link from a page to its notebook copy in the built site."""
    depth = docname.count("/")
    return "../" * depth + f"{DOWNLOAD_DIR}/{branch_path(framework, docname)}"
