# pulsebridge: one process serving Slack, Teams, /healthz and /metrics on port 3000.
#   docker build -t pulsebridge .
#   docker run --rm --env-file .env pulsebridge pulsebridge db upgrade     # once per release
#   docker run -d --env-file .env -p 3000:3000 --stop-timeout 30 pulsebridge
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin pulsebridge \
    && mkdir -p /data && chown pulsebridge:pulsebridge /data

USER pulsebridge
WORKDIR /data
# SQLite by default (one replica); set DATABASE_URL=postgresql+psycopg://… to run several.
ENV DATABASE_URL=sqlite:////data/pulsebridge.db
VOLUME /data
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"
CMD ["pulsebridge", "run", "--host", "0.0.0.0", "--port", "3000"]
