# lossd in containers. Three stages:
#   build    compiles lossd in release mode with Swift 6.3.1, the version CI tests with;
#   runtime  a slim Debian with libzmq5 and the lossd binary, run as the non-root user lossd
#            (uid and gid 10001; the default target);
#   trainer  Python with numpy, pyzmq and the lossd client, for Examples/numpy_trainer.py.
#
#   docker build -t lossd .
#   docker build -t lossd-trainer --target trainer .
#
# Base images: by default the official swift:6.3.1-bookworm, debian:bookworm-slim and
# python:3.11-slim-bookworm. Where Docker Hub is out of reach, scripts/docker-base-images.sh makes
# local stand-ins from Debian bookworm (debootstrap + docker import). Its Swift image holds a copy
# of the toolchain CI runs (/opt/swift, copied into the image rather than mounted, so that the
# image builds on its own, anywhere), so lossd is compiled by exactly the compiler it is tested
# with. Pass the images as build arguments, or through docker-compose.yml's LOSSD_*_IMAGE
# variables:
#
#   eval "$(scripts/docker-base-images.sh env)" && docker-compose build
#
# Whichever image it is, the build stage checks its compiler against SWIFT_VERSION and stops on
# any other.
#
# Settings come from flags and LOSSD_* environment variables, as docker-compose.yml shows. To use a
# YAML file instead, mount it and name it: `-v ./Config/lossd.yaml:/etc/lossd/lossd.yaml:ro` and
# `--config /etc/lossd/lossd.yaml`.

ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${SWIFT_IMAGE} AS build
ARG SWIFT_VERSION=6.3.1
RUN version="$(swift --version 2>&1 | head -n 1)" \
    && case "$version" in *"Swift version ${SWIFT_VERSION} "*) ;; \
       *) echo "the build image has ${version}; lossd is tested with Swift ${SWIFT_VERSION}" >&2; exit 1 ;; esac
# libzmq's headers, unless the image has them already.
RUN pkg-config --exists libzmq 2>/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends libzmq3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*; }
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
# Every target's folder, tests included: Package.swift declares them all.
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --product lossd --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/lossd" /out/lossd

FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzmq5 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lossd \
    && useradd --system --uid 10001 --gid lossd --home-dir /var/lib/lossd --create-home lossd
COPY --from=build /out/lossd /usr/local/bin/lossd
# No allocator setting: lossd makes glibc reuse freed receive buffers itself (docs/OPERATIONS.md,
# "Large batches").
USER lossd
WORKDIR /var/lib/lossd
# 5555: batches in (sidecar), 5556: records in (aggregator), 9180: HTTP (aggregator).
EXPOSE 5555 5556 9180
ENTRYPOINT ["lossd"]
CMD ["--help"]

FROM ${PYTHON_IMAGE} AS trainer
RUN pip install --no-cache-dir numpy pyzmq \
    && groupadd --system --gid 10001 trainer \
    && useradd --system --uid 10001 --gid trainer --create-home trainer
COPY clients/python /opt/lossd/clients/python
COPY Examples /opt/lossd/Examples
RUN pip install --no-cache-dir /opt/lossd/clients/python
USER trainer
ENTRYPOINT ["python3", "/opt/lossd/Examples/numpy_trainer.py"]
