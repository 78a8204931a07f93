#!/usr/bin/env bash
# Local stand-ins for the base images that the Dockerfile and docker-compose.yml name, for a
# machine whose Docker engine cannot pull from Docker Hub. Run as root, with a running dockerd and
# Debian's debootstrap; each image is made from Debian bookworm (debootstrap) and `docker import`:
#
#   lossd-local/debian:bookworm   stands in for debian:bookworm-slim (the runtime stage)
#   lossd-local/swift:6.3.1       stands in for swift:6.3.1-bookworm (the build stage): that Debian,
#                                 the toolchain's system packages, libzmq3-dev, and the Swift
#                                 toolchain this machine's CI tests with, copied from /opt/swift
#   lossd-local/python:3.11       stands in for python:3.11-slim-bookworm (the trainer): Debian's
#                                 python3 3.11 and pip, with numpy, pyzmq and setuptools from
#                                 Debian's packages, so that the trainer stage's pip finds them
#                                 installed and needs nothing from PyPI
#   lossd-local/prometheus:2      stands in for prom/prometheus (Debian's prometheus package)
#
# Where GitHub is not reachable either (as here), the Swift image also carries this machine's copy
# of the Swift packages (SWIFT_PACKAGE_MIRROR, default /opt/swift-packages) and the git setting
# that reads github.com from it, so that `swift package resolve` in the build stage works.
#
#   scripts/docker-base-images.sh          # makes the four images (about 10 minutes, 4 GB)
#   scripts/docker-base-images.sh python   # or only those named: debian python prometheus swift
#   eval "$(scripts/docker-base-images.sh env)"
#   docker-compose up --build
set -euo pipefail
cd "$(dirname "$0")/.."

swift_root=${SWIFT_ROOT:-/opt/swift}
mirror=${SWIFT_PACKAGE_MIRROR:-/opt/swift-packages}
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${WORK:-/tmp/lossd-docker-base}
docker=${DOCKER:-docker}

if [ "${1:-}" = env ]; then
    cat <<'EOF'
export LOSSD_DEBIAN_IMAGE=lossd-local/debian:bookworm
export LOSSD_SWIFT_IMAGE=lossd-local/swift:6.3.1
export LOSSD_PYTHON_IMAGE=lossd-local/python:3.11
export LOSSD_PROMETHEUS_IMAGE=lossd-local/prometheus:2
EOF
    exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "docker-base-images: run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "docker-base-images: apt-get install debootstrap" >&2; exit 1; }
"$swift_root/usr/bin/swift" --version >/dev/null || { echo "docker-base-images: no Swift toolchain at $swift_root" >&2; exit 1; }
mkdir -p "$work"

# Installs Debian packages into a root file system, then empties apt's caches.
install_into() {
    local root=$1
    shift
    mount --bind /proc "$root/proc"
    trap 'umount "$root/proc" 2>/dev/null || true' RETURN
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/*
}

# Imports a root file system as an image: import NAME ROOT [--change …]…
import_root() {
    local name=$1 root=$2
    shift 2
    echo "docker-base-images: importing $name" >&2
    tar --numeric-owner -C "$root" -c . | "$docker" import "$@" - "$name" >/dev/null
}

# Which images to make: all of them, or those named (debian python prometheus swift).
wanted=("${@:-debian python prometheus swift}")
wants() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

base="$work/debian"
if [ ! -x "$base/bin/bash" ]; then
    echo "docker-base-images: debootstrap bookworm into $base" >&2
    rm -rf "$base"
    debootstrap --variant=minbase bookworm "$base" "$debian_mirror" >"$work/debootstrap.log"
    rm -rf "$base"/var/lib/apt/lists/* "$base"/var/cache/apt/archives/*.deb
fi
path="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
wants debian && import_root lossd-local/debian:bookworm "$base" --change "ENV $path" --change 'CMD ["bash"]'

if wants python; then
python="$work/python"
rm -rf "$python" && cp -a "$base" "$python"
install_into "$python" python3 python3-pip python3-numpy python3-zmq python3-setuptools python3-wheel ca-certificates
ln -sf python3 "$python/usr/bin/python"
# Debian marks its Python as externally managed; the official image's pip installs freely. Build
# the client with the setuptools above rather than fetching it into an isolated environment.
import_root lossd-local/python:3.11 "$python" --change "ENV $path" --change "ENV PIP_BREAK_SYSTEM_PACKAGES=1" \
    --change "ENV PIP_NO_BUILD_ISOLATION=0" --change 'CMD ["python3"]'
rm -rf "$python"
fi

if wants prometheus; then
prometheus="$work/prometheus"
rm -rf "$prometheus" && cp -a "$base" "$prometheus"
install_into "$prometheus" prometheus wget ca-certificates
mkdir -p "$prometheus/prometheus" && chown 65534:65534 "$prometheus/prometheus"
import_root lossd-local/prometheus:2 "$prometheus" --change "ENV $path" --change "USER 65534" \
    --change "WORKDIR /prometheus" --change 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
rm -rf "$prometheus"
fi

if wants swift; then
swift="$work/swift"
rm -rf "$swift" && cp -a "$base" "$swift"
# The system packages the Swift toolchain needs on Debian 12 (as swift.org's bookworm images
# install them), and libzmq's headers for lossd.
install_into "$swift" binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev \
    libsqlite3-0 libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata zlib1g-dev libncurses-dev \
    libzmq3-dev ca-certificates
echo "docker-base-images: copying the toolchain from $swift_root" >&2
mkdir -p "$swift/opt"
cp -a "$swift_root" "$swift/opt/swift"
if [ -d "$mirror" ]; then
    cp -a "$mirror" "$swift/opt/swift-packages"
    for prefix in https://github.com/ git@github.com: ssh://git@github.com/; do
        chroot "$swift" git config --system --add "url./opt/swift-packages/.insteadOf" "$prefix"
    done
fi
import_root lossd-local/swift:6.3.1 "$swift" --change "ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'CMD ["swift", "--version"]'
rm -rf "$swift"
"$docker" run --rm lossd-local/swift:6.3.1 swift --version
fi
echo "docker-base-images: done; use them with: eval \"\$($0 env)\"" >&2
