#!/bin/sh
# (Re)starts the web server on PORT.
set -eu
case "$PORT" in *[!0-9]*|'') echo "PORT must be a number, got '$PORT'" >&2; exit 2;; esac
if [ -f /srv/web-page.pid ]; then kill "$(cat /srv/web-page.pid)" 2>/dev/null || true; rm -f /srv/web-page.pid; fi
setsid -f sh -c 'echo $$ > /srv/web-page.pid; exec python3 -m http.server "$0" --directory /srv/www' "$PORT" < /dev/null > /dev/null 2>&1
for i in $(seq 1 60); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$PORT" 2>/dev/null; then
    echo "serving on port $PORT"; exit 0
  fi
  sleep 0.5
done
echo "the web server did not answer on port $PORT" >&2
exit 1
