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
# EMBEDDINGS=true adds semantic matching (README "Optional: semantic matching"), with
# PyTorch's CPU build: PyPI's default torch would add gigabytes of CUDA libraries.
ARG EMBEDDINGS=false
RUN if [ "$EMBEDDINGS" = "true" ]; then \
        pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cpu \
        && pip install --no-cache-dir ".[embeddings]"; \
    else \
        pip install --no-cache-dir .; \
    fi

USER gapbot
VOLUME ["/data"]
EXPOSE 3000

# `gapbot serve` touches a liveness file every 20 s in both Socket Mode and HTTP mode; the
# check fails when the process is hung or gone.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.heartbeat"]

CMD ["gapbot", "serve"]
