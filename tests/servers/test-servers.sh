#!/usr/bin/env bash
# test-servers.sh start|stop|status: the real servers the upload tests need, on 127.0.0.1.
#   radosgw (Ceph S3, strict SigV4)  http://127.0.0.1:7480  CIACCESSKEY / CISECRETKEY,
#                                    buckets test-bucket and other-bucket
#   nginx   (HTTP PUT, WebDAV)       http://127.0.0.1:8080/artifacts/ (+ /private/, basic auth
#                                    ci:cisecret), files under $STATE/nginx/www
# `start` installs what is missing (apt), and is idempotent and safe to run concurrently: when
# everything answers it returns at once (the tests call it from every test process).
# State: ${PIPE_RUN_SERVERS_DIR:-/tmp/pipe-run-test-servers}.
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
state=${PIPE_RUN_SERVERS_DIR:-/tmp/pipe-run-test-servers}
rgw_port=7480
http_port=8080

answers() { curl -s -o /dev/null --max-time 2 "$1"; }

bucket_exists() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user CIACCESSKEY:CISECRETKEY -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -I \
    "http://127.0.0.1:$rgw_port/$1") == 200 ]]
}

up() {
  answers "http://127.0.0.1:$http_port/artifacts/" && answers "http://127.0.0.1:$rgw_port/" &&
    bucket_exists test-bucket
}

install_deps() {
  local want=(radosgw ceph-mon ceph-osd nginx rclone curl openssl zstd python3) missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "test-servers.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

kill_pidfile() {
  local file=$1
  [[ -f $file ]] || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

start_nginx() {
  local n=$state/nginx
  kill_pidfile "$state/nginx.pid"
  rm -rf "$n/www"
  mkdir -p "$n/www/artifacts" "$n/www/private" "$n/tmp" "$n/logs"
  chown -R www-data:www-data "$n/www" 2>/dev/null || true
  printf 'ci:%s\n' "$(openssl passwd -apr1 cisecret)" >"$n/htpasswd"
  cat >"$n/nginx.conf" <<CONF
worker_processes 1;
daemon off;
user www-data;
pid $n/nginx.pid;
error_log $n/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log $n/logs/access.log;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    server {
        listen 127.0.0.1:$http_port;
        root $n/www;
        client_max_body_size 0;
        location /artifacts/ {
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex on;
        }
        location /private/ {
            auth_basic "artifacts";
            auth_basic_user_file $n/htpasswd;
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
    }
}
CONF
  nginx -t -q -c "$n/nginx.conf" -e "$n/logs/error.log"
  # 9>&-: the daemons must not inherit the lock, or they would hold it forever.
  nginx -c "$n/nginx.conf" -e "$n/logs/error.log" >"$n/logs/stdout.log" 2>&1 9>&- &
  echo $! >"$state/nginx.pid"
  for _ in $(seq 1 40); do
    answers "http://127.0.0.1:$http_port/artifacts/" && return 0
    sleep 0.25
  done
  echo "test-servers.sh: nginx did not answer; see $n/logs" >&2
  return 1
}

start_rgw() {
  CEPH_DIR=$state/ceph RGW_PORT=$rgw_port "$here/rgw.sh" start 9>&-
  for bucket in test-bucket other-bucket; do
    curl -sS -f -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user CIACCESSKEY:CISECRETKEY \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://127.0.0.1:$rgw_port/$bucket"
  done
}

stop_all() {
  kill_pidfile "$state/nginx.pid"
  if [[ -d $state/ceph ]]; then CEPH_DIR=$state/ceph "$here/rgw.sh" stop || true; fi
}

case "${1:-}" in
  start)
    mkdir -p "$state"
    exec 9>"$state/lock"
    flock 9
    up && exit 0
    install_deps
    SECONDS=0
    answers "http://127.0.0.1:$http_port/artifacts/" || start_nginx
    { answers "http://127.0.0.1:$rgw_port/" && bucket_exists test-bucket; } || start_rgw
    echo "test-servers.sh: up in ${SECONDS} s (state in $state)" >&2
    ;;
  stop)
    mkdir -p "$state"
    exec 9>"$state/lock"
    flock 9
    stop_all
    ;;
  status)
    if up; then echo "up"; else echo "down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
