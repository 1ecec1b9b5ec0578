# ClickClack server image: `docker build -t clickclack . && docker run -p 8080:8080 -v cc-data:/data clickclack`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CLICKCLACK_DATA=/data \
    CLICKCLACK_ADDR=:8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY clickclack_sdk ./clickclack_sdk
COPY clickclack_bots ./clickclack_bots
COPY server ./server
RUN pip install ".[server]" \
    && useradd --system --home-dir /data --shell /usr/sbin/nologin clickclack \
    && mkdir -p /data && chown clickclack /data

USER clickclack
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT ["clickclack"]
CMD ["serve"]
