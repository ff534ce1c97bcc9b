# gapbot: the Slack app and its scheduler. Secrets come from the environment at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GAPBOT_CONFIG=/config/gapbot.yaml \
    DATABASE_URL=sqlite:////data/gapbot.db

RUN useradd --create-home --uid 10001 gapbot \
    && mkdir -p /app /data /config \
    && chown gapbot:gapbot /data /config

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY connectors ./connectors
COPY detectors ./detectors
COPY config ./config
COPY store ./store
COPY sandbox ./sandbox
RUN pip install --no-cache-dir .

USER gapbot
VOLUME ["/data"]
EXPOSE 3000

# In HTTP mode /healthz answers; in Socket Mode the check confirms the store is reachable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,sys,urllib.request; port=os.environ.get('PORT','3000'); \
sys.exit(0) if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else sys.exit(1)" \
    || gapbot db upgrade

CMD ["gapbot", "serve"]
