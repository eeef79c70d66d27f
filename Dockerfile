# The archive API on the embedded SQLite database (mount /data to keep it), or on
# PostgreSQL with -e ARCHIVE_DATABASE_URL=postgresql://user@host/db.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARCHIVE_DATABASE_URL=sqlite:////data/archive.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY archive ./archive
COPY api ./api
COPY alembic ./alembic

RUN pip install --no-cache-dir . \
    && groupadd --gid 10001 archive \
    && useradd --create-home --uid 10001 --gid 10001 archive \
    && mkdir -p /data \
    && chown archive /data

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4)"]

# `archive serve` applies the migrations (and loads the bundled corpus into an empty
# database) before it starts listening.
CMD ["archive", "serve", "--host", "0.0.0.0", "--port", "8000"]
