#!/usr/bin/env bats
# Callbacks when a job is final, in the Standard Webhooks form, to a
# real local receiver (tests/receiver.py): retries with one webhook-id,
# a signature that openssl verifies, and an allowlist judged on the
# address before any connection is made.

load helper

setup() {
	HOOKS=$BATS_TEST_TMPDIR/hooks
	mkdir -p "$HOOKS"
}

teardown() {
	local p
	stack_down
	for p in "$HOOKS"/*.pid; do
		[[ -s $p ]] && kill "$(cat "$p")" 2>/dev/null
	done
	return 0
}

# receiver NAME ADDR STATUSES [LOCATION]: start one on a free port; sets
# PORT_<NAME>; its log is $HOOKS/NAME.log.
receiver() {
	local name=$1 addr=$2 port i
	port=$(free_port)
	python3 "$BATS_TEST_DIRNAME/receiver.py" "$addr" "$port" \
		"$HOOKS/$name.log" "$3" ${4:+"$4"} &
	echo $! >"$HOOKS/$name.pid"
	for ((i = 0; i < 50; i++)); do
		[[ -n $(ss -Htln "src $addr:$port") ]] && break
		sleep 0.05
	done
	printf -v "PORT_$name" %s "$port"
}

# hook URL: submit a job that calls URL back; prints its id.
hook() {
	submit -H 'Content-Type: application/json' \
		-d "{\"callback_url\":\"$1\"}"
}

# until_callback ID STATE [SECONDS]: poll until the job's callback has
# STATE; prints the job.
until_callback() {
	local i body
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		body=$(job "$1")
		[[ $(jq -r .callback.state <<<"$body") == "$2" ]] &&
			{ echo "$body"; return 0; }
		sleep 0.05
	done
	echo "callback of $1 not $2: $body" >&2
	return 1
}

@test "500, 500, 200: three deliveries, one webhook-id, signatures openssl verifies" {
	receiver r 127.0.0.1 500,500,200
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1 \
		CALLBACK_ALLOW=127.0.0.1/32
	id=$(hook "http://127.0.0.1:$PORT_r/hook?x=1")
	body=$(until_callback "$id" delivered 15)
	jq -e '.status == "succeeded" and .callback.attempts == 3 and
		.callback.last_status == 200' <<<"$body"
	jq -c 'select(.method == "POST")' "$HOOKS/r.log" >"$HOOKS/posts"
	run wc -l <"$HOOKS/posts"
	assert_output 3
	run jq -r '.headers["webhook-id"]' "$HOOKS/posts"
	assert_output "$id
$id
$id"
	run jq -r '.path' "$HOOKS/posts"
	assert_line --index 0 '/hook?x=1'
	# The key: whsec_ and base64, in the stack's private secret file.
	key=$(as_user cat "$RUN/private/callback.secret")
	hex=$(printf '%s' "${key#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
	while read -r post; do
		ts=$(jq -r '.headers["webhook-timestamp"]' <<<"$post")
		sig=$(jq -r '.headers["webhook-signature"]' <<<"$post")
		jq -r .body <<<"$post" | head -c -1 >"$HOOKS/body"
		want=$( { printf '%s.%s.' "$id" "$ts"; cat "$HOOKS/body"; } |
			openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" \
			-binary | base64 -w0)
		assert_equal "$sig" "v1,$want"
		# The event: the job, final, and no secret in it.
		jq -e --arg id "$id" '.type == "job.succeeded" and
			.data.id == $id and .data.status == "succeeded"' \
			"$HOOKS/body"
		run grep -c whsec_ "$HOOKS/body"
		assert_output 0
	done <"$HOOKS/posts"
}

@test "410 stops at once; a 503's Retry-After is honoured" {
	receiver gone 127.0.0.1 410
	receiver later 127.0.0.1 503,200
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1 \
		CALLBACK_ALLOW=127.0.0.1/32
	id=$(hook "http://127.0.0.1:$PORT_gone/")
	body=$(until_callback "$id" failed 5)
	jq -e '.callback.attempts == 1 and .callback.last_status == 410' \
		<<<"$body"
	# Retry-After: 2 outweighs the first backoff (0.5 to 1 s).
	id=$(hook "http://127.0.0.1:$PORT_later/")
	until_callback "$id" delivered 10 >/dev/null
	run jq -s '[.[] | select(.method == "POST") | .time] |
		.[1] - .[0] >= 1.9' "$HOOKS/later.log"
	assert_output true
	run grep -c POST "$HOOKS/gone.log"
	assert_output 1
}

@test "refused: metadata, [::ffff:127.0.0.1], file://, a name and a 302 to a refused host" {
	# Loopback's 127.0.0.1 is refused; 127.0.0.2 alone is allowed.
	receiver target 127.0.0.1 200
	receiver redirect 127.0.0.2 302 "http://127.0.0.1:$PORT_target/"
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1 \
		CALLBACK_ALLOW=127.0.0.2/32
	refused() {
		run curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
			-d "{\"callback_url\":\"$1\"}" "$URL/jobs"
		assert_output --partial "$2"
		assert_output --regexp ' 400$'
	}
	refused "http://169.254.169.254/latest/meta-data/" \
		'address not allowed: 169.254.169.254'
	refused "http://[::ffff:127.0.0.1]:$PORT_target/" \
		'address not allowed: ::ffff:127.0.0.1'
	refused "http://[::ffff:a9fe:a9fe]/" 'address not allowed'
	refused "file:///etc/passwd" 'want http or https'
	refused "gopher://127.0.0.2/" 'want http or https'
	# A name that resolves to a refused address: judged at connect.
	a=$(hook "http://localhost:$PORT_target/")
	body=$(until_callback "$a" failed 5)
	jq -e '.callback.last_error | startswith("address not allowed")' <<<"$body"
	# A redirect is never followed.
	b=$(hook "http://127.0.0.2:$PORT_redirect/")
	body=$(until_callback "$b" failed 5)
	jq -e '.callback.last_status == 302 and .callback.last_error ==
		"address not allowed: 127.0.0.1 (a redirect, never followed)"' \
		<<<"$body"
	run grep -c POST "$HOOKS/redirect.log"
	assert_output 1
	# The refused target never saw a connection.
	[[ ! -s $HOOKS/target.log ]]
}

@test "a secret others can read, or a bad allowlist, is refused at start" {
	key=$BATS_TEST_TMPDIR/secret
	printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$key"
	chmod 0644 "$key"
	run env CALLBACK_SECRET_FILE="$key" "$SERIALCGI" --check
	assert_failure 2
	assert_output "serialcgi: callback secret $key: must be a regular file of ours, mode 0600 or 0400"
	chmod 0600 "$key"
	ln -s "$key" "$key.link"
	run env CALLBACK_SECRET_FILE="$key.link" "$SERIALCGI" --check
	assert_failure 2
	assert_output "serialcgi: callback secret $key.link: is a symlink"
	printf 'not a secret\n' >"$key"
	run env CALLBACK_SECRET_FILE="$key" "$SERIALCGI" --check
	assert_failure 2
	assert_output --partial 'want whsec_ and base64'
	run env CALLBACK_ALLOW=10.0.0.0/33 "$SERIALCGI" --check
	assert_failure 2
	assert_output 'serialcgi: CALLBACK_ALLOW: "10.0.0.0/33" is not "public" or a network such as 127.0.0.1/32 (at most 32)'
}
