# Wayfinder API: gunicorn serving service:create_app(), as a non-root user, with the demo model on first start.
# Alone: docker build -t wayfinder . && docker run -p 8000:8000 --env-file .env -v wayfinder-data:/data wayfinder
# With Redis and the daily retrain: docker compose up (docker-compose.yml; docs/operations.md, "Docker Compose").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WAYFINDER_DATA_DIR=/data WAYFINDER_REGISTRY=/data/registry WAYFINDER_HOST=0.0.0.0 WAYFINDER_PORT=8000

# libgomp1: LightGBM's OpenMP runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY config ./config
COPY journal ./journal
COPY models ./models
COPY reports ./reports
COPY service ./service
COPY training ./training
COPY deploy ./deploy
COPY gunicorn.conf.py .

# The demo model (what `make demo-model` trains: simulated journeys over config/), trained at build time into
# the image; deploy/entrypoint.sh copies it into a registry that has no current model. About 2 minutes.
RUN python -m training simulate --out /tmp/demo-events.jsonl \
    && python -m training train --events /tmp/demo-events.jsonl --registry /app/demo-registry \
    && rm /tmp/demo-events.jsonl

RUN useradd --create-home --uid 10001 wayfinder && mkdir -p /data && chown wayfinder /data
USER wayfinder
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('WAYFINDER_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=2).status == 200 else 1)"

# Without WAYFINDER_REDIS_URL the embedded Redis runs in the container (preload starts it once).
# On 0.0.0.0 the service refuses to start without keys: pass WAYFINDER_ADMIN_KEY and WAYFINDER_PUBLIC_KEY
# (e.g. from a secret, or an env file: .env.example), or create keys in the volume with
# `python -m training keys create` (docs/security.md).
ENTRYPOINT ["sh", "/app/deploy/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service:create_app()"]
