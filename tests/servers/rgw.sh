#!/bin/bash
# rgw.sh start|stop: a single-node Ceph (one monitor, one bluestore OSD on a sparse file, no
# manager) and radosgw, the S3 server the upload tests run against, on 127.0.0.1:${RGW_PORT:-7480}.
# Strict like AWS: SigV4, Content-MD5 and x-amz-content-sha256 are checked against the body;
# multipart with ListParts and Abort. Started by test-servers.sh, which installs the packages.
# Env: CEPH_DIR (state, wiped on start), CEPH_STORE=bluestore|memstore, RGW_PORT.
# S3 user: access key CIACCESSKEY, secret CISECRETKEY (test-only values).
set -euo pipefail
D=${CEPH_DIR:-/tmp/pipe-run-test-servers/ceph}
STORE=${CEPH_STORE:-bluestore}
PORT=${RGW_PORT:-7480}

stop() {
    for p in rgw osd mon; do
        [ -f "$D/$p.pid" ] && kill "$(cat "$D/$p.pid")" 2>/dev/null || true
    done
    for p in rgw osd mon; do
        [ -f "$D/$p.pid" ] || continue
        for _ in $(seq 1 80); do kill -0 "$(cat "$D/$p.pid")" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$(cat "$D/$p.pid")" 2>/dev/null || true
        rm -f "$D/$p.pid"
    done
}

start() {
    stop
    rm -rf "$D"; mkdir -p "$D"/{mon.a,osd.0,rgw,run,log}
    local fsid; fsid=$(cat /proc/sys/kernel/random/uuid)
    local store_conf
    if [ "$STORE" = memstore ]; then
        store_conf="osd objectstore = memstore
memstore device bytes = 8589934592"
    else
        store_conf="osd objectstore = bluestore
bluestore block path = $D/osd0.block
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456"
    fi
    cat > "$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:3300
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
[mon]
mon data = $D/\$name
# Every osdmap change (a pool, its application, the OSD's boot) waits out the proposal
# interval: 1 s by default, which made radosgw's first start (its pools) take 15 s.
paxos propose interval = 0.01
paxos min wait = 0.001
[osd]
osd data = $D/\$name
$store_conf
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
rgw dns name = localhost
rgw gc obj min wait = 0
rgw gc processor period = 30
objecter tick interval = 0.25
CONF
    local C=(-c "$D/ceph.conf") K="$D/keyring"
    ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
    ceph-authtool "$K" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    monmaptool --create --clobber --fsid "$fsid" --addv a '[v2:127.0.0.1:3300]' "$D/monmap" >/dev/null
    ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$K"
    ceph-mon "${C[@]}" -i a -f > "$D/log/mon.out" 2>&1 & echo $! > "$D/mon.pid"
    local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
    timeout 60 ceph "${C[@]}" osd new "$uuid" >/dev/null
    ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$uuid" > "$D/log/osd-mkfs.out" 2>&1
    ceph-osd "${C[@]}" -i 0 -f > "$D/log/osd.out" 2>&1 & echo $! > "$D/osd.pid"
    radosgw "${C[@]}" -n client.rgw.a -f > "$D/log/rgw.out" 2>&1 & echo $! > "$D/rgw.pid"
    for _ in $(seq 1 480); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.25; done
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { echo "radosgw did not come up; see $D/log" >&2; stop; exit 1; }
    radosgw-admin "${C[@]}" user create --uid=ci --display-name=ci \
        --access-key=CIACCESSKEY --secret=CISECRETKEY >/dev/null
    echo "radosgw ($STORE) on 127.0.0.1:$PORT (pids: mon $(cat "$D/mon.pid") osd $(cat "$D/osd.pid") rgw $(cat "$D/rgw.pid"))"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
