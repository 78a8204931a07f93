# syntax=docker/dockerfile:1
#
# lossd in containers. Three stages:
#   build    compiles lossd in release mode on the official Swift image;
#   runtime  a slim Debian with libzmq5 and the lossd binary, run as a non-root user (the default);
#   trainer  Python with numpy, pyzmq and the lossd client, for Examples/numpy_trainer.py.
#
#   docker build -t lossd .
#   docker build -t lossd-trainer --target trainer .

ARG SWIFT_IMAGE=swift:6.2-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzmq3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --product lossd --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/lossd" /out/lossd

FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzmq5 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/lossd --create-home lossd
COPY --from=build /out/lossd /usr/local/bin/lossd
COPY Config/lossd.yaml /etc/lossd/lossd.yaml
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
    && useradd --system --uid 10001 --user-group --create-home trainer
COPY clients/python /opt/lossd/clients/python
COPY Examples /opt/lossd/Examples
RUN pip install --no-cache-dir /opt/lossd/clients/python
USER trainer
ENTRYPOINT ["python3", "/opt/lossd/Examples/numpy_trainer.py"]
