"""Template helpers other pages use for sales email: the template picker of campaign email
steps."""

from django import template

from ..selectors import template_list_for_user

register = template.Library()


@register.inclusion_tag("emails/partials/template_picker.html", takes_context=True)
def email_template_picker(context):
    """A menu of the user's templates (theirs and the shared ones) that fills the form's
    subject and body (static/app.js, data-template-picker); nothing is saved until the form
    is."""
    request = context.get("request")
    user = getattr(request, "user", None)
    templates = list(template_list_for_user(user)) if user and user.is_authenticated else []
    return {"templates": templates}
