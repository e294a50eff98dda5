#!/usr/bin/env bash
# Builds a site with EventCatalog itself from what `factum-catalog export --eventcatalog`
# wrote, and checks the result: the build reports no error, every exported event has a
# page at every exported version, and each event's current page links to its older
# versions.
#
#   .ci/eventcatalog/build.sh EXPORTED_DIR [EVENT_ID=V1,V2,...]...
#
# Each EVENT_ID=VERSIONS argument also requires that event to have exactly those versions
# (`bank.Deposited=1,2`), so an export that lost a version fails here too.
#
# EventCatalog and a Node.js 22 binary (the `node` package) come from package-lock.json,
# installed by `npm ci` if node_modules is missing. The build needs no network and sends
# nothing: telemetry is switched off where a switch exists, and offline.mjs refuses the
# requests EventCatalog makes without one.
set -euo pipefail
# A glob that matches nothing (an export without events, an event without older
# versions) expands to nothing, not to itself.
shopt -s nullglob

here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 1 ] || [ ! -d "$1/events" ]; then
    echo "usage: $0 EXPORTED_DIR [EVENT_ID=V1,V2,...]... (EXPORTED_DIR/events must exist)" >&2
    exit 2
fi
exported="$(cd "$1" && pwd)"
shift

if [ ! -x "$here/node_modules/.bin/eventcatalog" ]; then
    # Not --prefix: the `node` package installs its binary with a nested npm, which would
    # take the prefix over.
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$here/node_modules/.bin:$PATH"
# Read once, then matched: `node --version | grep -q` can die of SIGPIPE under pipefail.
node_version="$(node --version)"
case "$node_version" in
    v22.*) ;;
    *) echo "EventCatalog needs Node.js 22; got $node_version" >&2; exit 1 ;;
esac

# A scratch project: the export, the configuration, and this folder's package.json. The
# build needs the latter's `type` and its dependency on @eventcatalog/core (Astro finds the
# integrations it must bundle through it), resolved in ../node_modules.
project="$here/project"
rm -rf "$project"
mkdir -p "$project"
cp -R "$exported"/. "$project"/
cp "$here/eventcatalog.config.js" "$here/package.json" "$project"/

export ASTRO_TELEMETRY_DISABLED=1 EVENTCATALOG_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
export NODE_OPTIONS="--import=$here/offline.mjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
log="$project/build.log"
if ! (cd "$project" && eventcatalog build) >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "EventCatalog's build failed (whole log: $log)" >&2
    exit 1
fi
# EventCatalog reports some content problems (a link to a resource it cannot find) and
# carries on; here they fail the build.
if grep -aE '\[ERROR\]|Failed to fetch related resource|broken link' "$log" >&2; then
    echo "EventCatalog's build reported errors (whole log: $log)" >&2
    exit 1
fi

dist="$project/dist"
fail=0
page() { # the built page of one event version, if any
    for candidate in "$dist/docs/events/$1/$2/index.html" "$dist/docs/events/$1/$2.html"; do
        [ -f "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}
version_of() { # the version in an index.mdx's front matter
    sed -n "s/^version: *['\"]\{0,1\}\([^'\"]*\)['\"]\{0,1\} *$/\1/p" "$1" | head -n 1
}
versions_of() { # an exported event's versions, one a line: the current one, then older ones
    version_of "$1/index.mdx"
    for old in "$1"/versioned/*/; do
        old="${old%/}"
        echo "${old##*/}"
    done
}
events=0
for folder in "$exported"/events/*/; do
    folder="${folder%/}"
    id="${folder##*/}" # not basename: an id may start with `-`
    [ -f "$folder/index.mdx" ] || { echo "$id has no index.mdx" >&2; fail=1; continue; }
    current="$(version_of "$folder/index.mdx")"
    versions="$(versions_of "$folder" | tr '\n' ' ')"
    current_page="$(page "$id" "$current")" || { echo "no page for $id version $current" >&2; fail=1; continue; }
    for v in $versions; do
        page "$id" "$v" >/dev/null || { echo "no page for $id version $v" >&2; fail=1; }
        [ "$v" = "$current" ] && continue
        grep -q "/docs/events/$id/$v\"" "$current_page" \
            || { echo "the page of $id version $current does not link to version $v" >&2; fail=1; }
    done
    events=$((events + 1))
    echo "$id: versions $(versions_of "$folder" | sort -n | paste -sd, -)"
done
for expectation in "$@"; do
    id="${expectation%%=*}"
    want="${expectation#*=}"
    folder="$exported/events/$id"
    [ -f "$folder/index.mdx" ] || { echo "$id was not exported" >&2; fail=1; continue; }
    have="$(versions_of "$folder" | sort -n | paste -sd, -)"
    [ "$have" = "$want" ] || { echo "$id has versions $have, expected $want" >&2; fail=1; }
done
[ "$events" -gt 0 ] || { echo "the export has no events" >&2; fail=1; }
[ "$fail" = 0 ] || exit 1
echo "EventCatalog built $events event(s) with every version's page"
