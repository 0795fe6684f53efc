#!/usr/bin/env bash
# Fetch uPlot from the npm registry again and vendor it into the dashboard's static folder.
#
# The dashboard loads nothing from another host, so the chart library ships in the package.
# This script is how the vendored copy was made: it packs the pinned version with `npm pack`,
# checks the tarball against the registry's sha512 integrity recorded below, and copies the
# ES module, the stylesheet and the licence into serving/dashboard/static/vendor/uplot/ with
# a VERSION file. Run it after changing VERSION and INTEGRITY (take both from
# `npm view uplot@<version> version dist.integrity`); the result must be committed.
set -euo pipefail

VERSION=1.6.32
INTEGRITY='sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=='

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/serving/dashboard/static/vendor/uplot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "vendor-uplot: npm is needed" >&2; exit 1; }
(cd "$work" && npm pack --silent "uplot@$VERSION" >/dev/null)
tarball="$work/uplot-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$INTEGRITY" ]]; then
    echo "vendor-uplot: integrity mismatch for uplot@$VERSION: got $actual" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$dest/"
printf 'uplot %s\nlicence MIT (see LICENSE)\nsource https://registry.npmjs.org/uplot/-/uplot-%s.tgz\nintegrity %s\n' \
    "$VERSION" "$VERSION" "$INTEGRITY" >"$dest/VERSION"
echo "vendored uplot $VERSION into ${dest#"$root"/}"
