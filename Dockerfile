FROM python:3.11-slim
# Tesseract for scanned pages (OCR, [ocr] in the TOML); the English model ships with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY tasks tasks
COPY schemas schemas
COPY storage storage
COPY scripts scripts
RUN pip install --no-cache-dir .
