# videogen: API and workers. Everything it needs comes from PyPI (ffmpeg from imageio-ffmpeg,
# espeak-ng from espeakng-loader, Piper and its English voice), so the image needs no apt.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIDEOGEN_HOME=/data \
    VIDEOGEN_TEMPLATES_DIR=/app/templates
WORKDIR /app
COPY pyproject.toml README.md ./
COPY videogen ./videogen
COPY workers ./workers
COPY templates ./templates
COPY examples ./examples
# EXTRAS="[monitoring]" adds Flower (docker-compose.yml builds it so).
ARG EXTRAS=""
RUN pip install --no-cache-dir ".${EXTRAS}" && useradd --create-home --uid 1000 videogen \
    && mkdir -p /data && chown videogen /data
USER videogen
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["videogen"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
