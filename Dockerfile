# The sfgr-sync image: one image for every process of the product. The Helm chart
# (helm/sfgr-sync) picks the command per workload: `sfgr api`, `sfgr consume <role>`, `sfgr poll`,
# `sfgr migrate`.
#
#   docker build -t sfgr-sync:0.1.0 .
#
# Production talks to a real Kafka, so neither the `dev` extra nor the Tansu broker wheel
# (devstack/requirements-broker.txt, tests and demo only) goes into the image. No secret goes
# into it either: every setting is an SFGR_* environment variable given at run time.
# To pin the base image by digest: --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:...

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, read from pyproject.toml alone, so that a change to the code does not
# download and install them again. Every dependency ships manylinux wheels: no compiler needed.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project itself (a regular, non-editable install; pyproject.toml names README.md).
COPY README.md ./
COPY app ./app
COPY consumers ./consumers
COPY migrations ./migrations
# The import check runs with -P (no current directory on sys.path), so it proves the installed
# package, migrations included, and not the sources beside it.
RUN pip install --no-cache-dir --no-deps . \
    && python -P -c 'import app.main, consumers.roles, consumers.poller; from app.db.migrate import MIGRATIONS_DIR; assert sorted(MIGRATIONS_DIR.glob("versions/*.py"))'


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="sfgr-sync" \
      org.opencontainers.image.description="Two-way, near-real-time contact sync between Salesforce and GetResponse" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can check it without a runAsUser.
RUN groupadd --system --gid 10001 sfgr \
    && useradd --system --uid 10001 --gid sfgr --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sfgr

# The virtualenv holds the bytecode pip compiled at install time, so a read-only root filesystem
# works; nothing in it belongs to the runtime user.
COPY --from=build /opt/venv /opt/venv
# Production unless said otherwise: the processes then refuse to start without an encryption key
# and with the example settings (development and test must be asked for explicitly).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SFGR_ENVIRONMENT=production

WORKDIR /tmp
USER 10001:10001
EXPOSE 8000

# No HEALTHCHECK: the same image runs consumers and the poller, which have no HTTP port; the
# chart's Kubernetes probes check the api (/healthz, /readyz).
ENTRYPOINT ["sfgr"]
CMD ["api", "--host", "0.0.0.0"]
