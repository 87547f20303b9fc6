#!/usr/bin/env bash
# plumb serve's /metrics, read by a strict parser of the Prometheus text format
# (every line parses, each family has HELP and TYPE, histograms are cumulative
# and end with +Inf equal to _count), then its families, their labels, and
# their values before and after a sync, a drift, API calls and a webhook.
# /healthz and /readyz too.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/serve-lib.sh"

unset PLUMB_WEBHOOK_SECRET
SECRET=hook-secret-$$
printf '%s\n' "$SECRET" >secret
mkdir -p roots/healed roots/report roots/broken

new_repo() {
	git init -q --bare "$1.git"
	git clone -q "$1.git" "work/$1" 2>/dev/null
	file_m motd /motd "$1 v1" >"work/$1/motd.yaml"
	git -C "work/$1" add -A && git -C "work/$1" commit -q -m "add motd"
	git -C "work/$1" push -q origin HEAD:main
}
has_content() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

new_repo healed
new_repo report
{
	application healed "$TRASH/healed.git" "$TRASH/roots/healed" 1h true true
	application report "$TRASH/report.git" "$TRASH/roots/report" 1h true false
	application broken "$TRASH/nowhere.git" "$TRASH/roots/broken" 1h true true
} >apps.yaml

# The parser: "prom.py check FILE" validates; "prom.py get FILE NAME [k=v,...]"
# prints one sample's value ("absent" when there is none); "prom.py families
# FILE" prints "name type label,label" for each family with samples.
cat >prom.py <<'PY'
import math, re, sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
FLOAT = re.compile(r'[+-]?(Inf|NaN|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$')
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')

class Bad(Exception):
    pass

def value(text, where):
    if not FLOAT.match(text):
        raise Bad('%s: %r is not a number' % (where, text))
    return float(text.replace('Inf', 'inf').replace('NaN', 'nan'))

def unescape(s, where, quote):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\':
            if i + 1 >= len(s):
                raise Bad('%s: a lone backslash' % where)
            n = s[i + 1]
            if n == 'n':
                out.append('\n')
            elif n == '\\' or (quote and n == '"'):
                out.append(n)
            else:
                raise Bad('%s: unknown escape \\%s' % (where, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)

def sample(line, where):
    m = NAME.match(line)
    if not m:
        raise Bad('%s: no metric name' % where)
    name, pos, labels = m.group(0), m.end(), {}
    if pos < len(line) and line[pos] == '{':
        pos += 1
        while True:
            if line[pos:pos + 1] == '}':
                pos += 1
                break
            m = LABEL.match(line, pos)
            if not m:
                raise Bad('%s: bad label name at column %d' % (where, pos + 1))
            label = m.group(0)
            pos = m.end()
            if line[pos:pos + 2] != '="':
                raise Bad('%s: label %s has no ="value"' % (where, label))
            pos += 2
            m = re.compile(r'((?:[^"\\\n]|\\.)*)"').match(line, pos)
            if not m:
                raise Bad('%s: label %s: unterminated value' % (where, label))
            if label in labels:
                raise Bad('%s: label %s given twice' % (where, label))
            labels[label] = unescape(m.group(1), where, True)
            pos = m.end()
            if line[pos:pos + 1] == ',':
                pos += 1
            elif line[pos:pos + 1] != '}':
                raise Bad('%s: expected , or } after label %s' % (where, label))
    rest = line[pos:]
    if not rest.startswith(' '):
        raise Bad('%s: no space before the value' % where)
    parts = rest[1:].split(' ')
    if len(parts) not in (1, 2) or not parts[0]:
        raise Bad('%s: expected "value [timestamp]", got %r' % (where, rest[1:]))
    if len(parts) == 2 and not re.match(r'-?\d+$', parts[1]):
        raise Bad('%s: bad timestamp %r' % (where, parts[1]))
    return name, labels, value(parts[0], where)

def parse(text):
    """[(family, type, help, [(name, labels, value)])], or raises Bad."""
    if text and not text.endswith('\n'):
        raise Bad('the last line has no newline')
    families, current, seen = [], None, set()
    for n, line in enumerate(text.split('\n')[:-1], 1):
        where = 'line %d' % n
        if line.startswith('#'):
            m = re.match(r'# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$', line)
            if not m:
                raise Bad('%s: a comment that is not HELP or TYPE: %r' % (where, line))
            kind, name, rest = m.groups()
            if kind == 'HELP':
                if name in seen:
                    raise Bad('%s: family %s appears twice' % (where, name))
                seen.add(name)
                current = [name, None, unescape(rest, where, False), []]
                families.append(current)
            else:
                if not current or current[0] != name:
                    raise Bad('%s: TYPE %s without its HELP just before' % (where, name))
                if current[1] is not None:
                    raise Bad('%s: a second TYPE for %s' % (where, name))
                if rest not in TYPES:
                    raise Bad('%s: unknown type %r' % (where, rest))
                current[1] = rest
            continue
        if not line:
            raise Bad('%s: an empty line' % where)
        name, labels, v = sample(line, where)
        if not current or current[1] is None:
            raise Bad('%s: sample %s before any HELP and TYPE' % (where, name))
        family, typ = current[0], current[1]
        suffixes = ('_bucket', '_sum', '_count') if typ == 'histogram' else ('',)
        if name not in [family + s for s in suffixes]:
            raise Bad('%s: sample %s does not belong to family %s (%s)' % (where, name, family, typ))
        current[3].append((name, labels, v))
    for family, typ, _, samples in families:
        if typ is None:
            raise Bad('family %s has no TYPE' % family)
        check_family(family, typ, samples)
    return families

def key(labels, drop=()):
    return tuple(sorted((k, v) for k, v in labels.items() if k not in drop))

def check_family(family, typ, samples):
    names, ids = None, set()
    for name, labels, v in samples:
        ln = sorted(k for k in labels if not (typ == 'histogram' and name.endswith('_bucket') and k == 'le'))
        if names is None:
            names = ln
        elif ln != names:
            raise Bad('%s: series with labels %s and %s' % (family, names, ln))
        ident = (name, key(labels))
        if ident in ids:
            raise Bad('%s: the series %s%s appears twice' % (family, name, dict(labels)))
        ids.add(ident)
        if typ == 'counter' and not (v >= 0):
            raise Bad('%s%s: a counter at %r' % (name, dict(labels), v))
    if typ != 'histogram':
        return
    series = {}
    for name, labels, v in samples:
        s = series.setdefault(key(labels, ('le',)), {'buckets': [], 'sum': None, 'count': None})
        if name.endswith('_bucket'):
            if 'le' not in labels:
                raise Bad('%s: a bucket without le' % family)
            s['buckets'].append((value(labels['le'], family + ' le'), v))
        elif name.endswith('_sum'):
            s['sum'] = v
        else:
            s['count'] = v
    for k, s in series.items():
        where = '%s%s' % (family, dict(k))
        if s['sum'] is None or s['count'] is None:
            raise Bad('%s: no _sum or no _count' % where)
        b = s['buckets']
        if not b or b[-1][0] != math.inf:
            raise Bad('%s: the last bucket is not le="+Inf"' % where)
        for (le1, c1), (le2, c2) in zip(b, b[1:]):
            if not le1 < le2:
                raise Bad('%s: bucket bounds %r, %r not increasing' % (where, le1, le2))
            if not c1 <= c2:
                raise Bad('%s: bucket counts %r, %r not cumulative' % (where, c1, c2))
        if any(c != int(c) or c < 0 for _, c in b) or s['count'] != int(s['count']):
            raise Bad('%s: counts that are not whole numbers' % where)
        if b[-1][1] != s['count']:
            raise Bad('%s: +Inf bucket %r but _count %r' % (where, b[-1][1], s['count']))

def main():
    text = open(sys.argv[2], encoding='utf-8').read()
    try:
        families = parse(text)
    except Bad as e:
        print('bad metrics: %s' % e)
        sys.exit(1)
    if sys.argv[1] == 'check':
        return
    if sys.argv[1] == 'families':
        for family, typ, _, samples in families:
            names = sorted({k for _, l, _ in samples for k in l if k != 'le'})
            print(family, typ, ','.join(names) or '-')
        return
    if sys.argv[1] == 'state':
        # the state of a state set: the one series at 1, the others at 0
        got = {l['state']: v for f, _, _, s in families if f == sys.argv[3]
               for _, l, v in s if l.get('app') == sys.argv[4]}
        on = [k for k, v in got.items() if v == 1]
        ok = len(on) == 1 and all(v == 0 for k, v in got.items() if k != on[0])
        print(on[0] if ok else 'not a state set: %s' % sorted(got.items()))
        return
    name = sys.argv[3]
    want = dict(kv.split('=', 1) for kv in sys.argv[4].split(',')) if len(sys.argv) > 4 and sys.argv[4] else {}
    for _, _, _, samples in families:
        for n, labels, v in samples:
            if n == name and labels == want:
                print(int(v) if v == int(v) else v)
                return
    print('absent')

main()
PY

# scrape: GET /metrics into metrics.txt, which must parse.
scrape() {
	curl -sf "$(serve_url)/metrics" >"$TRASH/metrics.txt" && "$PYTHON" "$TRASH/prom.py" check "$TRASH/metrics.txt"
}
# m NAME [LABELS]: a sample of the last scrape ("absent" when there is none).
m() { "$PYTHON" "$TRASH/prom.py" get "$TRASH/metrics.txt" "$1" "${2:-}"; }
# m_expect NAME LABELS VALUE: in the last scrape, the sample is VALUE; says what it is if not.
m_expect() {
	local got
	got=$(m "$1" "$2")
	[ "$got" = "$3" ] || { echo "$1{$2} is $got, expected $3"; return 1; }
}
# m_now NAME [LABELS]: the same, scraped now.
m_now() { scrape >/dev/null && m "$@"; }
# m_is NAME LABELS VALUE: scraped now, the sample is VALUE (for wait_for).
m_is() { [ "$(m_now "$1" "$2")" = "$3" ]; }
# counter NAME LABELS: a counter scraped now, 0 when it has no series yet.
counter() {
	local v
	v=$(m_now "$1" "$2")
	[ "$v" = absent ] && v=0
	echo "$v"
}
# state_is APP FAMILY STATE: in a scrape now, FAMILY{app=APP} is 1 for STATE and 0 for every other state.
state_is() { scrape >/dev/null && [ "$("$PYTHON" "$TRASH/prom.py" state "$TRASH/metrics.txt" "$2" "$1")" = "$3" ]; }

test_expect_success 'the parser refuses what is not the Prometheus text format' '
	bad() { printf "$1" >bad.txt && ! "$PYTHON" prom.py check bad.txt >/dev/null || { echo "accepted: $1"; exit 1; }; } &&
	good() { printf "$1" >good.txt && "$PYTHON" prom.py check good.txt; } &&
	good "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\\\"\\\\\\\\\"} 1\n" &&
	good "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n" &&
	bad "a_total 1\n" &&
	bad "# HELP a_total x\na_total 1\n" &&
	bad "# HELP a x\n# TYPE a counter\na -1\n" &&
	bad "# HELP a x\n# TYPE a gauge\na{k=\"v} 1\n" &&
	bad "# HELP a x\n# TYPE a gauge\na{k=\"\\\\q\"} 1\n" &&
	bad "# HELP a x\n# TYPE a gauge\na 1 2 3\n" &&
	bad "# HELP a x\n# TYPE a gauge\na one\n" &&
	bad "# HELP a x\n# TYPE a gauge\nb 1\n" &&
	bad "# HELP a x\n# TYPE a gauge\na 1\na 2\n" &&
	bad "# HELP a x\n# TYPE a gauge\na 1" &&
	bad "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n" &&
	bad "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n" &&
	bad "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n" &&
	bad "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
'

test_expect_success 'serve starts; /healthz and /readyz answer 200' '
	start_serve --config apps.yaml --webhook-secret-file secret --verify-interval 1h &&
	wait_for 10 field_is healed sync Synced &&
	wait_for 10 field_is report sync Synced &&
	test "$(curl -s -o body -w "%{http_code}" "$(serve_url)/healthz")" = 200 &&
	test_grep "\"status\":\"ok\"" body &&
	test "$(curl -s -o body -w "%{http_code}" "$(serve_url)/readyz")" = 200 &&
	test_grep "\"status\":\"ready\"" body
'

test_expect_success '/metrics parses, with its Prometheus content type' '
	curl -s -D headers -o /dev/null "$(serve_url)/metrics" &&
	test_grep "^Content-Type: text/plain; version=0.0.4" headers &&
	scrape
'

test_expect_success 'the first syncs are counted and timed; sync state and health are state sets' '
	wait_for 5 m_is plumb_syncs_total app=healed,result=succeeded 1 &&
	m_expect plumb_syncs_total app=report,result=succeeded 1 &&
	m_expect plumb_sync_duration_seconds_count app=healed 1 &&
	m_expect plumb_sync_duration_seconds_bucket app=healed,le=+Inf 1 &&
	state_is healed plumb_app_sync_state Synced &&
	state_is report plumb_app_sync_state Synced &&
	state_is healed plumb_app_health Healthy &&
	for app in healed report broken; do
		for f in plumb_app_sync_state plumb_app_health; do
			"$PYTHON" prom.py state metrics.txt $f $app >state &&
			test_grep_not "not a state set" state || exit 1
		done
	done &&
	for s in Synced OutOfSync Unknown; do test "$(m plumb_app_sync_state app=healed,state=$s)" != absent || exit 1; done &&
	for s in Healthy Progressing Degraded Missing Unknown; do test "$(m plumb_app_health app=healed,state=$s)" != absent || exit 1; done
'

test_expect_success 'git fetches are timed by repository; a repository that cannot be fetched counts failures' '
	wait_for 5 eval "test \"\$(counter plumb_git_fetch_failures_total repo=$TRASH/nowhere.git)\" -ge 1" &&
	scrape &&
	test "$(m plumb_git_fetch_duration_seconds_count repo=$TRASH/healed.git)" -ge 1 &&
	m_expect plumb_git_fetch_failures_total repo=$TRASH/healed.git 0 &&
	test "$(m plumb_git_fetch_duration_seconds_count repo=$TRASH/nowhere.git)" -ge "$(m plumb_git_fetch_failures_total repo=$TRASH/nowhere.git)" &&
	m_expect plumb_syncs_total app=broken,result=succeeded absent
'

test_expect_success 'a sync through the API: syncs_total +1, its duration observed once, the API call counted' '
	scrape &&
	syncs=$(m plumb_syncs_total app=healed,result=succeeded) &&
	count=$(m plumb_sync_duration_seconds_count app=healed) &&
	sum=$(m plumb_sync_duration_seconds_sum app=healed) &&
	calls=$(counter plumb_api_requests_total "route=/api/v1/apps/{app}/sync,code=202") &&
	runs=$(run_count healed) &&
	api "$(admin_token)" POST /api/v1/apps/healed/sync >/dev/null && test "$HTTP_STATUS" = 202 &&
	wait_for 5 eval "test \$(run_count healed) = $((runs + 1))" &&
	wait_for 5 history_has healed "\"trigger\":\"manual\".*\"result\":\"succeeded\"" &&
	wait_for 2 m_is plumb_syncs_total app=healed,result=succeeded $((syncs + 1)) &&
	m_expect plumb_sync_duration_seconds_count app=healed $((count + 1)) &&
	m_expect plumb_sync_duration_seconds_bucket app=healed,le=+Inf $((count + 1)) &&
	"$PYTHON" -c "import sys; sys.exit(0 if float(sys.argv[2]) >= float(sys.argv[1]) else 1)" "$sum" "$(m plumb_sync_duration_seconds_sum app=healed)" &&
	m_expect plumb_api_requests_total "route=/api/v1/apps/{app}/sync,code=202" $((calls + 1)) &&
	m_expect plumb_syncs_total app=healed,result=failed absent
'

test_expect_success 'API calls are counted by route pattern and status code' '
	ok=$(counter plumb_api_requests_total route=/api/v1/apps,code=200) &&
	denied=$(counter plumb_api_requests_total route=/api/v1/apps,code=401) &&
	one=$(counter plumb_api_requests_total "route=/api/v1/apps/{app},code=200") &&
	missing=$(counter plumb_api_requests_total "route=/api/v1/apps/{app},code=404") &&
	api "$(admin_token)" GET /api/v1/apps >/dev/null && test "$HTTP_STATUS" = 200 &&
	api "" GET /api/v1/apps >/dev/null && test "$HTTP_STATUS" = 401 &&
	api "$(admin_token)" GET /api/v1/apps/report >/dev/null && test "$HTTP_STATUS" = 200 &&
	api "$(admin_token)" GET /api/v1/apps/healed >/dev/null && test "$HTTP_STATUS" = 200 &&
	api "$(admin_token)" GET /api/v1/apps/no-such-app >/dev/null && test "$HTTP_STATUS" = 404 &&
	scrape &&
	m_expect plumb_api_requests_total route=/api/v1/apps,code=200 $((ok + 1)) &&
	m_expect plumb_api_requests_total route=/api/v1/apps,code=401 $((denied + 1)) &&
	m_expect plumb_api_requests_total "route=/api/v1/apps/{app},code=200" $((one + 2)) &&
	m_expect plumb_api_requests_total "route=/api/v1/apps/{app},code=404" $((missing + 1)) &&
	grep "^plumb_api_requests_total{" metrics.txt >series &&
	test_grep_not "no-such-app|/apps/report|/apps/healed" series &&
	before=$(m plumb_api_requests_total route=/metrics,code=200) &&
	scrape &&
	m_expect plumb_api_requests_total route=/metrics,code=200 $((before + 1))
'

test_expect_success 'without selfHeal a hand edit flips sync_state to OutOfSync and counts one drift; undoing it flips back' '
	state_is report plumb_app_sync_state Synced &&
	drift=$(counter plumb_drift_detections_total app=report) &&
	echo "edited by hand" >roots/report/motd &&
	wait_for 5 state_is report plumb_app_sync_state OutOfSync &&
	test "$(app_field report sync)" = OutOfSync &&
	m_expect plumb_drift_detections_total app=report $((drift + 1)) &&
	has_content roots/report/motd "edited by hand" &&
	printf "report v1\n" >roots/report/motd &&
	wait_for 5 state_is report plumb_app_sync_state Synced &&
	test "$(app_field report sync)" = Synced &&
	m_expect plumb_drift_detections_total app=report $((drift + 1))
'

test_expect_success 'with selfHeal a hand edit counts one drift and one more successful sync' '
	drift=$(counter plumb_drift_detections_total app=healed) &&
	syncs=$(counter plumb_syncs_total app=healed,result=succeeded) &&
	echo "edited by hand" >roots/healed/motd &&
	wait_for 5 has_content roots/healed/motd "healed v1" &&
	wait_for 5 history_has healed "\"trigger\":\"drift\".*\"result\":\"succeeded\"" &&
	wait_for 2 m_is plumb_syncs_total app=healed,result=succeeded $((syncs + 1)) &&
	m_expect plumb_drift_detections_total app=healed $((drift + 1)) &&
	state_is healed plumb_app_sync_state Synced
'

test_expect_success 'a webhook delivery is counted by provider and result' '
	printf "{\"repository\":\"file://%s/report.git\"}" "$TRASH" >hook.json &&
	test "$(hook_post generic hook.json "$(hook_signature generic "$SECRET" hook.json)")" = 202 &&
	test "$(hook_post generic hook.json "$(hook_signature generic "wrong" hook.json)")" = 401 &&
	scrape &&
	m_expect plumb_webhook_requests_total provider=generic,result=accepted 1 &&
	m_expect plumb_webhook_requests_total provider=generic,result=bad_signature 1
'

test_expect_success 'every family is there with its type and labels' '
	scrape &&
	"$PYTHON" prom.py families metrics.txt >families &&
	cat >families.expected <<-EOF &&
	plumb_syncs_total counter app,result
	plumb_sync_duration_seconds histogram app
	plumb_app_sync_state gauge app,state
	plumb_app_health gauge app,state
	plumb_drift_detections_total counter app
	plumb_git_fetch_duration_seconds histogram repo
	plumb_git_fetch_failures_total counter repo
	plumb_api_requests_total counter code,route
	plumb_webhook_requests_total counter provider,result
	EOF
	sort families.expected >want && sort families >got &&
	test_cmp want got &&
	grep -q "^plumb_syncs_total{app=\"healed\",result=\"succeeded\"} " metrics.txt &&
	grep -q "^plumb_api_requests_total{route=\"/api/v1/apps\",code=\"200\"} " metrics.txt &&
	grep -q "^plumb_webhook_requests_total{provider=\"generic\",result=\"accepted\"} " metrics.txt &&
	stop_serve
'

test_expect_success 'one hand edit is one drift detection, however often the drift is verified again' '
	start_serve --config apps.yaml --webhook-secret-file secret --verify-interval 1s &&
	wait_for 10 state_is report plumb_app_sync_state Synced &&
	test "$(counter plumb_drift_detections_total app=report)" = 0 &&
	echo "edited by hand, once" >roots/report/motd &&
	wait_for 5 state_is report plumb_app_sync_state OutOfSync &&
	m_expect plumb_drift_detections_total app=report 1 &&
	sleep 3 && # three more verify passes find the same drift
	state_is report plumb_app_sync_state OutOfSync &&
	m_expect plumb_drift_detections_total app=report 1
'

test_expect_success 'SIGTERM stops the daemon' '
	printf "report v1\n" >roots/report/motd &&
	wait_for 5 state_is report plumb_app_sync_state Synced &&
	stop_serve
'

test_done
