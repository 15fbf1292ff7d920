FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
COPY salesactions ./salesactions
COPY accounts ./accounts
COPY people ./people
COPY activities ./activities
COPY reminders ./reminders
COPY syncing ./syncing
COPY unsubscribes ./unsubscribes
COPY sandbox ./sandbox
RUN pip install .
COPY . .

# A throwaway key: collectstatic signs nothing, and no key is ever baked into the image.
RUN DEBUG=false SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput

# The web service runs collectstatic again on start (docker-compose.yml): app owns the folder.
RUN useradd --create-home app && mkdir -p /app/var /app/staticfiles \
    && chown -R app /app/var /app/staticfiles
USER app
EXPOSE 8000
CMD ["gunicorn", "salesactions.wsgi", "--config", "gunicorn.conf.py"]
