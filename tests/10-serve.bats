#!/usr/bin/env bats
# One request at a time through the real stack: status, body, headers.

load helper

setup_file() {
	stack_up "$BATS_FILE_TMPDIR" PROCESSES=2 WORK_SECONDS=3
}

teardown_file() {
	stack_down
}

@test "GET /test takes the real 3 s and answers exactly {\"elapsed\": n}" {
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code} %{content_type}' "$URL/test"
	assert_success
	assert_output "200 application/json"
	run jq -e 'keys == ["elapsed"] and (.elapsed | type) == "number"' "$BATS_TEST_TMPDIR/body"
	assert_success
	run jq -e '.elapsed >= 3.0 and .elapsed < 3.2' "$BATS_TEST_TMPDIR/body"
	assert_success
}

@test "the responder logs the request with nginx's request id" {
	id=$(curl -s -D - -o /dev/null "$URL/test" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "x-request-id" { print $2 }')
	[[ -n $id ]]
	run grep -F "req=$id 200" "$RUN/responders.log"
	assert_success
}

@test "HEAD /test runs the work and answers 200 without a body" {
	run curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/test"
	assert_success
	assert_output "200 0"
}

@test "POST, PUT and DELETE get 405 with Allow: GET, HEAD, at once" {
	for m in POST PUT DELETE; do
		run curl -s -X "$m" -D "$BATS_TEST_TMPDIR/h" -w '%{http_code} %{time_total}' \
			-o "$BATS_TEST_TMPDIR/b" "$URL/test"
		assert_success
		read -r code secs <<<"$output"
		[[ $code == 405 ]]
		awk -v t="$secs" 'BEGIN { exit !(t < 0.5) }'
		run grep -i '^allow: GET, HEAD' "$BATS_TEST_TMPDIR/h"
		assert_success
		run jq -e '.error == "method not allowed"' "$BATS_TEST_TMPDIR/b"
		assert_success
	done
}

@test "other paths are 404 and never reach the responder" {
	run curl -s -w ' %{http_code}' "$URL/other"
	assert_output --partial '{"error":"not found"}'
	assert_output --partial ' 404'
	run grep -F ' 404 ' "$RUN/responders.log"
	assert_failure
}
