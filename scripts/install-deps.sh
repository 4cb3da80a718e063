#!/bin/sh
# Installs what fleetdeck's sandbox fleet (`fleetdeck demo`, tests/sandbox_e2e.rs) needs on
# Debian/Ubuntu: OpenSSH server and client, a static busybox (the demo images are built from
# it), tmux, nginx-light and postgresql. Idempotent: installs only if something is missing.
set -eu

PACKAGES="openssh-server openssh-client busybox-static tmux nginx-light postgresql"

missing=""
need() { # need WHAT: record a missing piece
    missing="$missing $1"
}
test -x /usr/sbin/sshd || need /usr/sbin/sshd
command -v ssh >/dev/null 2>&1 || need ssh
command -v ssh-keygen >/dev/null 2>&1 || need ssh-keygen
test -x /bin/busybox || need /bin/busybox
# Debian's plain `busybox` package is dynamically linked and useless in a FROM-scratch image.
if test -x /bin/busybox && command -v file >/dev/null 2>&1; then
    file -L /bin/busybox | grep -q 'statically linked' || need "static /bin/busybox"
fi
command -v tmux >/dev/null 2>&1 || need tmux
test -x /usr/sbin/nginx || need nginx
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need postgres

extra=""
if ! test -x /usr/sbin/dockerd && ! command -v dockerd >/dev/null 2>&1; then
    extra="docker.io"
    need dockerd
fi

if test "$(id -u)" -eq 0; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    SUDO="none"
fi

if test -n "$missing"; then
    echo "missing:$missing"
    if test "$SUDO" = none; then
        echo "not root and no sudo; run as root:" >&2
        echo "  apt-get update && apt-get install -y $PACKAGES $extra && mkdir -p /run/sshd" >&2
        exit 1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $PACKAGES $extra
else
    echo "all sandbox dependencies are installed"
fi

# sshd's privilege separation directory (on tmpfs /run it vanishes at reboot).
if test "$SUDO" = none; then
    test -d /run/sshd || echo "run as root: mkdir -p /run/sshd" >&2
else
    $SUDO mkdir -p /run/sshd
fi
