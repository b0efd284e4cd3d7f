FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY tasks tasks
COPY schemas schemas
COPY storage storage
COPY scripts scripts
RUN pip install --no-cache-dir .
