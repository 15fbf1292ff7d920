FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
COPY salesactions ./salesactions
COPY accounts ./accounts
COPY people ./people
COPY activities ./activities
COPY syncing ./syncing
COPY unsubscribes ./unsubscribes
COPY sandbox ./sandbox
RUN pip install .
COPY . .

RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "salesactions.wsgi", "--config", "gunicorn.conf.py"]
