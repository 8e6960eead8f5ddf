"""One error type for everything a book author can get wrong."""


class BookError(Exception):
    """A problem in the book's sources or set-up, stated for the author.

    The message names the file, the cell and the framework where they are
    known, and says what to do.
    """

    def __init__(self, message: str, *, path=None, cell=None, framework=None):
        where = []
        if path is not None:
            where.append(str(path))
        if cell is not None:
            where.append(f"cell {cell}")
        if framework is not None:
            where.append(f"framework '{framework}'")
        self.path, self.cell, self.framework = path, cell, framework
        super().__init__((", ".join(where) + ": " if where else "") + message)
