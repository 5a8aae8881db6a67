# incident-adapter: Alertmanager webhooks in, one incident event per alert out.
#
#   podman build -t incident-adapter .          (or docker build)
#   podman run --read-only -p 9095:9095 \
#     -v ./config.yml:/etc/incident-adapter/config.yml:ro \
#     -v ./secrets:/etc/incident-adapter/secrets:ro incident-adapter
#
# BASE_IMAGE is any Debian-like image with Python >= 3.11 and the venv module. Both stages use
# it, so the venv's interpreter link (/usr/local/bin/python3 in python:*-slim, /usr/bin/python3
# in a Debian-built base) resolves in the final image. Only `python3` is called, never `python`.
ARG BASE_IMAGE=docker.io/library/python:3.12-slim-bookworm

# ---- build: a self-contained venv in /opt/venv ------------------------------------------------
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

RUN python3 -m venv /opt/venv

# Dependencies first, from pyproject.toml alone, so a code change does not re-download them.
# --only-binary: every dependency comes as a wheel, so no compiler is needed (or present).
# EXTRAS: the optional extras to include, comma-separated. `tracing` by default: an image cannot
# be extended at run time, and without a `tracing:` block none of it is imported, so it costs
# an image that does not trace ~30 MB of disk only. --build-arg EXTRAS= leaves it out.
ARG EXTRAS=tracing
COPY pyproject.toml ./
RUN python3 -c 'import os, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; extras = [e for e in os.environ["EXTRAS"].split(",") if e]; print("\n".join(p["dependencies"] + [r for e in extras for r in p["optional-dependencies"][e]]))' > requirements.txt \
 && /opt/venv/bin/python3 -m pip install --no-cache-dir --only-binary=:all: -r requirements.txt

# The package itself (its build backend, setuptools, lives only in pip's isolated build env).
COPY README.md ./
COPY adapter ./adapter
RUN /opt/venv/bin/python3 -m pip install --no-cache-dir --no-deps . \
 && /opt/venv/bin/python3 -m pip uninstall -y pip setuptools \
 && /opt/venv/bin/python3 -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/incident-adapter --version

# ---- final: the venv on a clean base, nothing else -------------------------------------------
FROM ${BASE_IMAGE}

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="incident-adapter" \
      org.opencontainers.image.description="Stateless bridge from Prometheus Alertmanager webhooks to incident-management APIs: one tracked incident per alert." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /opt/venv /opt/venv

# The root filesystem may be read-only: bytecode is compiled above and never written at run
# time; logs go to stderr; nothing else is written.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# 65532 is the conventional "nonroot" id (distroless); numeric so runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /
EXPOSE 9095

# On any address but loopback the adapter needs an inbound credential: the config must set
# auth.bearer_tokens_file (or basic_auth). Mount the config and its secrets under
# /etc/incident-adapter/. `... check-config /etc/incident-adapter/config.yml` works too.
ENTRYPOINT ["/opt/venv/bin/incident-adapter"]
CMD ["--config.file=/etc/incident-adapter/config.yml", "--web.listen-address=0.0.0.0:9095"]
