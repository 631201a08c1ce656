#!/bin/sh
# Writes the page. Environment: TEXT, ADDRESS.
set -eu
mkdir -p /srv/www
printf '<!doctype html>\n<title>web-page-script</title>\n<p>%s</p>\n<p>served by %s</p>\n' "$TEXT" "$ADDRESS" > /srv/www/index.html
echo "page written for $ADDRESS"
