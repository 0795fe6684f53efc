#!/usr/bin/env bash
# Fetch Swagger UI (swagger-ui-dist) from the npm registry again and vendor it into the API
# documentation's static folder.
#
# The API documentation page loads nothing from another host (servers without internet show
# it too), so Swagger UI ships in the package. This script is how the vendored copy was made:
# it packs the pinned version with `npm pack`, checks the tarball against the registry's
# sha512 integrity recorded below, and copies the bundle, the stylesheet and the licence into
# serving/api_docs/static/swagger-ui/ with a VERSION file. Run it after changing VERSION and
# INTEGRITY (take both from `npm view swagger-ui-dist@<version> version dist.integrity`); the
# result must be committed.
set -euo pipefail

VERSION=5.36.0
INTEGRITY='sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A=='

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/serving/api_docs/static/swagger-ui"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "vendor-swagger-ui: npm is needed" >&2; exit 1; }
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tarball="$work/swagger-ui-dist-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$INTEGRITY" ]]; then
    echo "vendor-swagger-ui: integrity mismatch for swagger-ui-dist@$VERSION: got $actual" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest"
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" "$work/package/LICENSE" "$dest/"
printf 'swagger-ui-dist %s\nlicence Apache-2.0 (see LICENSE)\nsource https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-%s.tgz\nintegrity %s\n' \
    "$VERSION" "$VERSION" "$INTEGRITY" >"$dest/VERSION"
echo "vendored swagger-ui-dist $VERSION into ${dest#"$root"/}"
