#!/usr/bin/env bash
# Vendor files of a package from the npm registry into the repository, checked and labelled.
#
# Usage: vendor-npm.sh PACKAGE VERSION INTEGRITY LICENCE DEST FILE...
#
# The pages the app serves load nothing from another host, so their front-end libraries ship
# in the package. This packs PACKAGE@VERSION with `npm pack`, checks the tarball against the
# registry's sha512 INTEGRITY (take it, with the version, from `npm view PACKAGE@VERSION
# version dist.integrity`), and copies each FILE (a path inside the package) and its LICENSE
# into DEST (relative to the repository) with a VERSION file naming the package, the licence,
# the source and the integrity. The result must be committed.
set -euo pipefail

[[ $# -ge 6 ]] || { echo "usage: $0 PACKAGE VERSION INTEGRITY LICENCE DEST FILE..." >&2; exit 2; }
package=$1 version=$2 integrity=$3 licence=$4 dest_rel=$5
shift 5

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/$dest_rel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "vendor-npm: npm is needed" >&2; exit 1; }
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball="$work/$package-$version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$integrity" ]]; then
    echo "vendor-npm: integrity mismatch for $package@$version: got $actual" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest"
for file in "$@" LICENSE; do
    cp "$work/package/$file" "$dest/"
done
printf '%s %s\nlicence %s (see LICENSE)\nsource https://registry.npmjs.org/%s/-/%s-%s.tgz\nintegrity %s\n' \
    "$package" "$version" "$licence" "$package" "$package" "$version" "$integrity" >"$dest/VERSION"
echo "vendored $package $version into $dest_rel"
