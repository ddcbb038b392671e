#!/usr/bin/env bats
# Jobs in cluster mode: the store is the lock engine (PostgreSQL), so a
# job submitted on host A can be polled, listed and canceled on host B;
# jobs of both hosts never overlap.

load helper

setup() { cluster_setup; }
teardown() { cluster_teardown; }

@test "cluster: submit on host A, poll and cancel on host B" {
	host_up A PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	URL=$URL_A
	a=$(submit)
	b=$(submit)
	# a runs until thaw: its process, on A, frozen.
	running_frozen "$a"
	URL=$URL_B
	body=$(until_status "$a" running 3)
	jq -e '.progress >= 0' <<<"$body"
	run job "$b"
	assert_output --partial '"status":"queued"'
	run curl -s -w ' %{http_code}' -X POST "$URL/jobs/$b/cancel"
	assert_output --regexp '"status":"canceled".* 200$'
	thaw
	# B's own job waits behind A's, and runs on B.
	c=$(submit)
	until_status "$c" succeeded 5 >/dev/null
	run jq -r '.status' <<<"$(URL=$URL_A job "$a")"
	assert_output succeeded
	assert_equal "$(starts "$a") $(starts "$b") $(starts "$c")" "1 0 1"
	run curl -s "$URL/jobs?limit=10"
	assert_output --partial "\"id\":\"$c\""
	assert_output --partial "\"id\":\"$a\""
	run sql "select count(*) from serialcgi_jobs"
	assert_output 3
	# One engine, one order: no two works overlap across the hosts.
	no_overlap""
}

@test "cluster: the store unreachable: 503 with Retry-After, nothing queued" {
	host_up A PROCESSES=1 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	URL=$URL_A
	"$TOP/spawn/engine" down >/dev/null
	run curl -s -D - -X POST "$URL/jobs"
	assert_output --partial '503 Service Unavailable'
	assert_output --partial 'Retry-After: 1'
	assert_output --partial 'job store unavailable'
	"$TOP/spawn/engine" up >/dev/null
	for ((i = 0; i < 20; i++)); do
		id=$(submit)
		[[ -n $id ]] && break
		sleep 0.25
	done
	until_status "$id" succeeded 5 >/dev/null
}
