# One image for every process of the service; the command picks the role:
#   docker run IMAGE                                   web (gunicorn, port 8000)
#   docker run IMAGE python -m web.worker notifications signing default
#   docker run IMAGE python -m web.worker archive reports
#   docker run IMAGE flask --app wsgi migrate          once per release, before the new code starts
# Settings come from the environment (docs/configuration.md); nothing is kept in the container.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INSTANCE_PATH=/var/lib/journals JT_BIND=0.0.0.0:8000 PROMETHEUS_MULTIPROC_DIR=/tmp/jt-metrics \
    LOG_FORMAT=json PATH=/opt/journals/.venv/bin:$PATH

# The same system packages as scripts/install.sh (runtime part): PKCS#11 tokens, PDF tools, fonts.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      softhsm2 opensc poppler-utils fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/journals --create-home journals

WORKDIR /opt/journals
COPY requirements.txt .
RUN python -m venv .venv && .venv/bin/pip install -q -r requirements.txt
COPY . .

USER journals
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)" || exit 1
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
