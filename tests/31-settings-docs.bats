#!/usr/bin/env bats
# One source for every setting: the responder's table (serialcgi
# --settings) is where each setting's variable, option, default and
# range are written; the README's table, the man page, spawn/stack,
# spawn/responders and the Makefile must agree with it, or take their
# defaults from it.

load helper

README=$TOP/README.md

# settings: serialcgi --settings with the tabs as \x1f, which read
# splits on without merging empty fields (a tab is blank to IFS).
settings() {
	"$SERIALCGI" --settings | tr '\t' '\037'
}
PAGE=$TOP/man/serialcgi.8

# cell ROW N: the N-th cell of a markdown table row, without blanks and
# backticks.
cell() {
	awk -F'|' -v n="$2" '{ print $(n + 1) }' <<<"$1" |
		sed -e 's/^ *//' -e 's/ *$//' -e 's/`//g'
}

# range_short RANGE: --settings' words as the README writes them.
range_short() {
	sed -E -e 's/^a whole number from (-?[0-9]+) to (-?[0-9]+)$/\1-\2/' \
		-e 's/^a number of seconds in (.*)$/\1/' <<<"$1"
}

# page_item KEY: the text of the man page's item that starts with KEY
# (".It Fl w" or ".It Ev PORT"), up to the next item.
page_item() {
	awk -v key="$1" 'index($0, key) == 1 { on = 1; print; next }
		on && /^\.(It|El|Sh)/ { exit } on { print }' "$PAGE"
}

@test "every setting is in the README's table with its option, default and range" {
	local var opt def range help row want
	while IFS=$'\037' read -r var opt def range help; do
		row=$(grep -E "^\| \`$var\` \|" "$README") ||
			fail "$var: no row in README.md's settings table"
		if [[ $opt != - ]]; then
			[[ $(cell "$row" 2) == *"$opt"* ]] ||
				fail "$var: the README gives no $opt"
		fi
		want=${def:-off}
		[[ $(cell "$row" 3) == "$want"* ||
			$(cell "$row" 3) == "./$want"* ]] ||
			fail "$var: the README says default '$(cell "$row" 3)', the table '$want'"
		case $range in
		"a whole number from"* | "a number of seconds"*)
			[[ $(cell "$row" 4) == "$(range_short "$range")"* ]] ||
				fail "$var: the README says range '$(cell "$row" 4)', the table '$(range_short "$range")'"
		esac
	done < <(settings)
}

@test "every setting is in the man page with its default" {
	local var opt def range help item short
	while IFS=$'\037' read -r var opt def range help; do
		page_item ".It Ev $var" | grep -q . ||
			fail "$var: not in the man page's ENVIRONMENT"
		if [[ $opt == - ]]; then
			item=$(page_item ".It Ev $var")
		else
			short=$("$SERIALCGI" --help | grep -oE -- "-[a-zA-Z], $opt" |
				cut -c2)
			item=$(page_item ".It Fl $short")
		fi
		if [[ -z $def ]]; then
			grep -q 'Off by default' <<<"$item" ||
				fail "$var: the man page does not say it is off by default"
		else
			grep -qF "The default is" <<<"$item" &&
				grep -qF "$def" <<<"$item" ||
				fail "$var: the man page does not give the default $def"
		fi
	done < <(settings)
}

@test "the scripts and the Makefile write no default of their own" {
	local var opt def range help
	# The defaults spawn/stack and spawn/responders use come from
	# --settings; a hard-coded ${VAR:-value} of a setting would drift.
	# spawn/responders' own PROCESSES and RUN_DIR are the exceptions the
	# README's table names (a shared host: fewer processes, ~/.serialcgi).
	# A place made of other variables (JOBS_DB=${JOBS_DB:-$PRIVATE/..})
	# is where a script puts a file, not a default.
	grep -qF '4 (2 for `spawn/responders`' "$README"
	grep -qF '(`~/.serialcgi` for `spawn/responders`)' "$README"
	while IFS=$'\037' read -r var opt def range help; do
		run grep -nE "\\\$\\{$var:-[^}\$]" "$TOP/spawn/stack" \
			"$TOP/spawn/responders" "$TOP/spawn/cluster"
		refute_output --regexp "^[^:]*/spawn/(stack|cluster):"
		[[ $var == PROCESSES || $var == RUN_DIR ]] || assert_output ""
		run grep -nE "^$var[[:space:]]*\\?=" "$TOP/Makefile"
		assert_output ""
	done < <(settings)
}

@test "settings checked together: QUEUE plus JOB_QUEUE within the scoreboard" {
	QUEUE=8000 JOB_QUEUE=1000 run "$SERIALCGI" --check
	assert_failure 2
	assert_output "serialcgi: QUEUE (8000) plus JOB_QUEUE (1000) is more than the scoreboard's 8192 tickets"
	QUEUE=8000 JOB_QUEUE=192 run "$SERIALCGI" --check
	assert_success
	PORT=0 run "$SERIALCGI" --check
	assert_failure 2
	assert_output 'serialcgi: PORT: "0" is not a whole number from 1 to 65535'
}

@test "getopt's words: a missing argument, an unknown option; --version" {
	run "$SERIALCGI" --lock-file
	assert_failure 2
	assert_output "serialcgi: option --lock-file requires an argument"
	run "$SERIALCGI" -w
	assert_failure 2
	assert_output "serialcgi: option -w requires an argument"
	run "$SERIALCGI" --bogus
	assert_failure 2
	assert_output "serialcgi: unknown option --bogus (see --help)"
	run "$SERIALCGI" -x
	assert_failure 2
	assert_output "serialcgi: unknown option -x (see --help)"
	run "$SERIALCGI" --version
	assert_success
	assert_output --regexp '^serialcgi [0-9]+\.[0-9]+\.[0-9]+$'
}
