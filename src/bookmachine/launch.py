"""Stage 6: where a reader can run each page's notebook, per framework."""

from __future__ import annotations

from urllib.parse import quote

from .config import BookConfig, Framework
from .errors import BookError
from .export import notebook_name

SERVICES = {
    "colab": ("Open in Colab", "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"),
    "studiolab": ("Open in Studio Lab",
                  "https://studiolab.sagemaker.aws/import/github/{repo}/blob/{branch}/{path}"),
}
DOWNLOAD_DIR = "_notebooks"  # where the site keeps a copy of each notebook


def github_repo(config: BookConfig) -> str:
    """``owner/name`` of the repository the notebooks branch lives in."""
    url = config.repository_url
    prefix = "https://github.com/"
    if not url.startswith(prefix):
        raise ValueError(f"repository.url must be a GitHub URL, not {url!r}")
    return url[len(prefix):].removesuffix(".git")


def branch_path(framework: Framework, docname: str) -> str:
    """A notebook's path inside the notebooks branch."""
    return f"{framework.key}/{notebook_name(docname)}.ipynb"


def launch_links(config: BookConfig, framework: Framework, docname: str) -> list[tuple[str, str, str]]:
    """(service, label, URL) for each hosted service that can run this framework."""
    path = quote(branch_path(framework, docname))
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
