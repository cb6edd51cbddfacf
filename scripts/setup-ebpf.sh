#!/usr/bin/env bash
# Installs the toolchain that builds rvrrpd's eBPF programs (rvrrpd-ebpf):
#   * a nightly rustc pinned by date, with rust-src (for `-Z build-std=core`),
#   * bpf-linker, built against that nightly's own libLLVM (Debian ships LLVM <= 19, the
#     nightly uses LLVM 22), installed under a permanent prefix.
#
# Idempotent and fast when everything is in place (it only runs `--version` checks).
# The daemon itself never needs any of this: without it rvrrpd runs on the classic-BPF path.
#
# Environment:
#   RVRRPD_BPF_PREFIX    where bpf-linker and the libLLVM links live
#                        (default: ${XDG_DATA_HOME:-$HOME/.local/share}/rvrrpd-bpf)
#   RVRRPD_BPF_NIGHTLY   the nightly date to pin (default below; bump it together with
#                        BPF_LINKER_VERSION / its llvm-N feature, then re-run this script)
#
# Writes "$PREFIX/toolchain.env" (TOOLCHAIN=..., LLVM_MAJOR=..., BPF_LINKER=...), which
# `cargo xtask build-ebpf` reads.
set -euo pipefail

NIGHTLY_DATE="${RVRRPD_BPF_NIGHTLY:-2026-05-19}"
BPF_LINKER_VERSION="0.13.0"
PREFIX="${RVRRPD_BPF_PREFIX:-${XDG_DATA_HOME:-$HOME/.local/share}/rvrrpd-bpf}"
STATE="$PREFIX/toolchain.env"

log() { echo "setup-ebpf: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v rustup >/dev/null 2>&1 || die "rustup not found: install rustup first (https://rustup.rs)"

# commit date of a toolchain's rustc, or empty if the toolchain is not installed
commit_date() { rustc "+$1" -vV 2>/dev/null | sed -n 's/^commit-date: //p'; }
has_rust_src() { [ -d "$(rustc "+$1" --print sysroot)/lib/rustlib/src/rust/library/core" ]; }

# --- fast path: everything recorded last time is still in place ---------------------------
if [ -f "$STATE" ]; then
  # shellcheck disable=SC1090
  . "$STATE"
  if [ "$(commit_date "${TOOLCHAIN:-none}")" = "$NIGHTLY_DATE" ] && has_rust_src "$TOOLCHAIN" \
     && [ -x "${BPF_LINKER:-/nonexistent}" ] \
     && "$BPF_LINKER" --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
    log "ok: $TOOLCHAIN (LLVM $LLVM_MAJOR), $("$BPF_LINKER" --version)"
    exit 0
  fi
  log "recorded toolchain is stale or incomplete; reinstalling"
fi

# --- 1. the pinned nightly -----------------------------------------------------------------
# Prefer an exact dated toolchain; accept an already installed floating `nightly` of the same
# date (saves a ~200 MB download); otherwise install the dated one.
TOOLCHAIN=""
for cand in "nightly-$NIGHTLY_DATE" nightly; do
  if [ "$(commit_date "$cand")" = "$NIGHTLY_DATE" ]; then TOOLCHAIN="$cand"; break; fi
done
if [ -z "$TOOLCHAIN" ]; then
  TOOLCHAIN="nightly-$NIGHTLY_DATE"
  log "installing $TOOLCHAIN (minimal profile + rust-src)"
  rustup toolchain install "$TOOLCHAIN" --profile minimal --component rust-src --no-self-update
fi
if ! has_rust_src "$TOOLCHAIN"; then
  log "adding rust-src to $TOOLCHAIN"
  rustup component add rust-src --toolchain "$TOOLCHAIN"
fi
# rustc for the nightly of date D reports commit-date D-1 or D depending on the build; we
# matched on commit-date above, so the pin is to the compiler commit, which is what matters.

# --- 2. bpf-linker against the nightly's libLLVM -------------------------------------------
SYSROOT="$(rustc "+$TOOLCHAIN" --print sysroot)"
LLVM_MAJOR="$(rustc "+$TOOLCHAIN" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
shopt -s nullglob
sonames=("$SYSROOT"/lib/libLLVM.so.*)
shopt -u nullglob
[ ${#sonames[@]} -ge 1 ] || die "no libLLVM.so.* in $SYSROOT/lib (is $TOOLCHAIN complete?)"
SONAME="$(basename "${sonames[0]}")"
mkdir -p "$PREFIX/lib" "$PREFIX/bin"
ln -sfn "$SYSROOT/lib/$SONAME" "$PREFIX/lib/libLLVM.so"   # for linking bpf-linker
ln -sfn "$SYSROOT/lib/$SONAME" "$PREFIX/lib/$SONAME"      # at run time (rpath = $PREFIX/lib)

BPF_LINKER="$PREFIX/bin/bpf-linker"
if [ -x "$BPF_LINKER" ] && "$BPF_LINKER" --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
  log "bpf-linker $BPF_LINKER_VERSION already installed"
else
  log "building bpf-linker $BPF_LINKER_VERSION against $SONAME (LLVM $LLVM_MAJOR); takes ~1 min"
  # LLVM_PREFIX is required: without it the build finds Debian's llvm-config on PATH.
  # Built with the default (stable) toolchain; clear any toolchain override from the caller.
  env -u RUSTUP_TOOLCHAIN -u RUSTC -u RUSTFLAGS -u CARGO_TARGET_DIR LLVM_PREFIX="$PREFIX" \
    cargo install --locked --root "$PREFIX" --version "=$BPF_LINKER_VERSION" \
      --no-default-features --features "llvm-$LLVM_MAJOR" bpf-linker
fi
"$BPF_LINKER" --version >/dev/null || die "$BPF_LINKER does not run (libLLVM link in $PREFIX/lib?)"

cat >"$STATE.tmp" <<EOF
# written by scripts/setup-ebpf.sh; read by \`cargo xtask build-ebpf\`
TOOLCHAIN=$TOOLCHAIN
LLVM_MAJOR=$LLVM_MAJOR
BPF_LINKER=$BPF_LINKER
EOF
mv "$STATE.tmp" "$STATE"
log "ok: $TOOLCHAIN (LLVM $LLVM_MAJOR), $("$BPF_LINKER" --version)"
