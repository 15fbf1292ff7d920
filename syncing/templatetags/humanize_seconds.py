from django import template

register = template.Library()


@register.filter
def seconds_short(seconds: float) -> str:
    """12 s, 4 min, 3 h, 2 d: how far behind a sync is, at a glance."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
