#!/bin/sh
# Stops the web server.
if [ -f /srv/web-page.pid ]; then kill "$(cat /srv/web-page.pid)" 2>/dev/null || true; rm -f /srv/web-page.pid; fi
echo stopped
