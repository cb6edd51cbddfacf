#!/usr/bin/env bash
# Installs what rvrrpd's lab, tests and benchmarks need on a fresh Debian/Ubuntu machine.
# Idempotent: a second run that finds everything in place does nothing.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip         || need_pkgs+=(iproute2)
have keepalived || need_pkgs+=(keepalived)
[ -x /usr/lib/frr/vrrpd ] || need_pkgs+=(frr)
have tcpdump    || need_pkgs+=(tcpdump)
have ping       || need_pkgs+=(iputils-ping)
# Accept mode without XDP (tests/accept_mode.rs): rvrrpd's nftables table.
[ -x /usr/sbin/nft ] || need_pkgs+=(nftables)
# tests/service.rs: systemd-analyze verify/security on conf/rvrrpd.service, setpriv for the
# unit's capability set; cargo xtask deb: dpkg-deb, strip, and groff to lint the man pages.
have systemd-analyze || need_pkgs+=(systemd)
have setpriv    || need_pkgs+=(util-linux)
have dpkg-deb   || need_pkgs+=(dpkg)
have groff      || need_pkgs+=(groff-base)
have strip      || need_pkgs+=(binutils)
# cargo xtask scale --attack: the XDP program's run time (bpf_stats) during the flood.
[ -x /usr/sbin/bpftool ] || need_pkgs+=(bpftool)
# cargo xtask scale --napi-threads: GRO on the veths (their own NAPI, then threaded).
[ -x /usr/sbin/ethtool ] || need_pkgs+=(ethtool)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need_pkgs[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian starts services from postinst where it can; we run our own instances in namespaces.
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Never let a packaged keepalived/FRR started by postinst interfere with the tests.
for svc in keepalived frr; do
  if have systemctl && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

# The FreeBSD cross-check (`cargo check --target x86_64-unknown-freebsd`) needs its rust-std.
if have rustup && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-freebsd; then
  echo "setup: adding the rustup target x86_64-unknown-freebsd"
  rustup target add x86_64-unknown-freebsd
fi

if [ "${RVRRPD_SETUP_EBPF:-1}" = 1 ] && [ -x "$(dirname "$0")/setup-ebpf.sh" ]; then
  "$(dirname "$0")/setup-ebpf.sh"
fi
echo "setup: ok"
