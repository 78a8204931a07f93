#!/usr/bin/env bash
# Installs what lossd needs to build and test, and nothing that is already there:
# libzmq (Debian's libzmq3-dev, found through pkg-config), Prometheus (Debian's prometheus package:
# the tests check lossd aggregate's /metrics with promtool and scrape it with a real server),
# openssl, curl and htpasswd (apache2-utils: the guarded-HTTP tests make certificates and bcrypt
# hashes as docs/SECURITY.md tells operators to, and read the port with curl), iproute2 (the
# recipe and fault tests build hosts in network namespaces with `ip netns`) and the Python
# packages the tests use.
#
# With --frameworks it installs only the test-only framework packages instead: torch, torchvision
# and TensorFlow at the versions the framework tests were checked with (LOSSD_FRAMEWORK_PACKAGES
# overrides the list). They are large (about 3 GB with the CUDA libraries PyPI's torch wheel
# pulls in; a CPU-only wheel is not on PyPI) and lossd never needs them at run time. A package
# already installed at its pinned version is left alone; a failed install fails the script, so
# `make test` stops rather than running the framework tests without them.
set -euo pipefail

if [ "${1:-}" = "--frameworks" ]; then
    python=${PYTHON:-python3}
    wanted=${LOSSD_FRAMEWORK_PACKAGES:-"torch==2.15.0 torchvision==0.29.2 tensorflow==2.21.0"}
    missing=()
    for requirement in $wanted; do
        name=${requirement%%==*}
        version=${requirement#*==}
        [ "$version" = "$requirement" ] && version=""
        installed=$("$python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)
        if [ -z "$installed" ] || { [ -n "$version" ] && [ "${installed%%+*}" != "$version" ]; }; then
            missing+=("$requirement")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "install-deps: installing the test-only framework packages ${missing[*]} with pip (about 3 GB, 3-5 minutes)" >&2
        start=$(date +%s)
        "$python" -m pip install -q "${missing[@]}"
        echo "install-deps: framework packages installed in $(( $(date +%s) - start )) s" >&2
    fi
    exit 0
fi

want_python=${LOSSD_PYTHON_PACKAGES:-"numpy pyzmq pytest PyYAML jsonschema crc32c tensorboard"}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "install-deps: need root to run: $*" >&2; exit 1
    fi
}

apt_packages=()
command -v pkg-config >/dev/null 2>&1 || apt_packages+=(pkg-config)
if ! pkg-config --exists libzmq 2>/dev/null; then apt_packages+=(libzmq3-dev); fi
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then apt_packages+=(prometheus); fi
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl)
command -v curl >/dev/null 2>&1 || apt_packages+=(curl)
command -v htpasswd >/dev/null 2>&1 || apt_packages+=(apache2-utils)
command -v ip >/dev/null 2>&1 || apt_packages+=(iproute2)
for extra in ${LOSSD_APT_PACKAGES:-}; do
    dpkg -s "$extra" >/dev/null 2>&1 || apt_packages+=("$extra")
done
if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "install-deps: installing ${apt_packages[*]} with apt-get" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

python=${PYTHON:-python3}
missing=()
for package in $want_python; do
    module=$package
    [ "$package" = pyzmq ] && module=zmq
    [ "$package" = PyYAML ] && module=yaml
    "$python" -c "import $module" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]} with pip" >&2
    "$python" -m pip install -q "${missing[@]}"
fi
