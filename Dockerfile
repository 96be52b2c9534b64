# The Labpanel image: the web application (gunicorn) and the Celery worker share it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LABPANEL_MEDIA_ROOT=/var/lib/labpanel/media

WORKDIR /app

# The lock (make lock): every dependency pinned, transitive ones too, each file's hash checked.
COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt

# The media folder exists in the image, owned by the app user, so that a new named volume
# mounted there inherits that owner.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin labpanel \
    && mkdir -p /var/lib/labpanel/media \
    && chown labpanel:labpanel /var/lib/labpanel/media

COPY . .

# Static files are collected into the image (whitenoise serves them). Settings need some secret
# key to load; this one is used for nothing else and never reaches a running container.
RUN DJANGO_SECRET_KEY=collectstatic-only-build-key python manage.py collectstatic --noinput

USER labpanel
EXPOSE 8000
CMD ["gunicorn", "labpanel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
