# One image for both roles (see README):
#   docker run -p 8000:8000 -v raim-data:/data IMAGE                  -> raim serve (embedded worker)
#   docker run -v raim-data:/data -e RAIM_BROKER_URL=... IMAGE worker -> a Celery scoring worker
# Servers and workers share RAIM_DATA_DIR (uploads, datasets) and RAIM_DATABASE_URL.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAIM_DATA_DIR=/data \
    RAIM_WEIGHTS_DIR=/opt/raim/weights \
    RAIM_HOST=0.0.0.0 \
    RAIM_PORT=8000

# OpenCV (headless) still links against GLib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/raim

# Exactly as `make setup`: every install through the lock (constraints.txt), torch and
# torchvision first and pinned, pyiqa alone without its own dependency list (pyproject.toml).
COPY constraints.txt ./
RUN pip install -c constraints.txt --upgrade pip \
    && pip install -c constraints.txt torch==2.14.1 torchvision==0.29.1

COPY pyproject.toml README.md ./
COPY app app
COPY metrics metrics
COPY scoring scoring
COPY migrations migrations
COPY templates templates
# Editable, like `make setup`: templates/ and migrations/ stay where the code looks for them.
RUN pip install -c constraints.txt -e . \
    && pip install -c constraints.txt --no-deps pyiqa \
    && raim weights install \
    && raim weights verify

VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["raim"]
CMD ["serve"]
