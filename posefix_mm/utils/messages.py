"""Short messages about lists of things."""


def few(items: list, n: int = 3) -> str:
    """The first ``n`` items, comma-separated, and how many more there are
    (``'a, b, c and 4 more'``)."""
    shown = ', '.join(str(item) for item in items[:n])
    return shown + (f' and {len(items) - n} more' if len(items) > n else '')
