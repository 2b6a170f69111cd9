# atende's gateway image. The database is a separate service (see docker-compose.yml);
# the embedding model ships inside the Python package, so nothing is downloaded at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
COPY connectors ./connectors
COPY storage ./storage
COPY config ./config
# gcc builds atende's e5 engine (gateway/embeddings/native) during the install, and
# leaves with the build; without it the install would fall back to a slower engine.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app atende
USER atende

EXPOSE 8000
ENV ATENDE_HOST=0.0.0.0 \
    ATENDE_PORT=8000 \
    ATENDE_LOG_FORMAT=json
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"
CMD ["atende", "serve"]
