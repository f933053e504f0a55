# One image for every flowledger role; compose.yaml picks the role with the command.
FROM python:3.11-slim

RUN pip install --no-cache-dir uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/app/.venv/bin:$PATH"

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY domain ./domain
COPY commands ./commands
COPY projections ./projections
COPY adapters ./adapters
COPY gateway ./gateway
RUN uv sync --frozen --no-dev

USER nobody
EXPOSE 8000
CMD ["flowledger", "api"]
