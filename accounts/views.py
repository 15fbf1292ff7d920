"""The user's own settings page."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import TimeZoneForm
from .services import user_time_zone_set


@require_http_methods(["GET", "POST"])
def profile(request):
    """Your settings: the time zone that decides which tasks are due today."""
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            user_time_zone_set(request.user, form.cleaned_data["time_zone"])
            messages.success(request, "Time zone saved.")
            return redirect("profile")
    else:
        form = TimeZoneForm(initial={"time_zone": request.user.time_zone})
    return render(request, "accounts/profile.html", {"form": form},
                  status=400 if form.is_bound else 200)
