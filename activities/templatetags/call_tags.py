from django import template

register = template.Library()


@register.filter
def call_duration(seconds: int) -> str:
    """A call's length as a dialer shows it: 4:05, or 1:02:03 past an hour."""
    minutes, seconds = divmod(int(seconds or 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
