#!/bin/sh
# Install the Debian packages that mptcpext's build and tests need.
# Idempotent: installs only what is missing, and runs `apt-get update` only
# when something must be installed. Needs root (or sudo) for that part.
set -eu

PKGS="gcc make clang libclang-rt-14-dev clang-format cppcheck libssl-dev liburing-dev
      python3 python3-pytest python3-matplotlib tshark iproute2
      libnetfilter-queue-dev libmnl-dev iptables nftables iputils-ping
      openssl curl wget gnutls-bin nginx libgnutls28-dev openssh-server openssh-client iperf3"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: need root to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
# iperf3 asks whether to run a server at boot: no (the tests start their own).
echo "iperf3 iperf3/start_daemon boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
