#!/usr/bin/env bash
# The man pages: clean under mandoc's lint, and every command and option that --help
# shows is documented (a command's options under that command in schedctl(1)). TAP.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${BUILD_DIR:-build}" && pwd) || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { # description
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() { # description, diagnostic
	n=$((n + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
	failed=$((failed + 1))
}

# Rendered text without overstrike; col(1) is in bsdextrautils, which a minimal Debian lacks.
render() { # page
	if command -v col >/dev/null 2>&1; then
		mandoc -Tascii "$1" | col -b
	else
		mandoc -Tascii "$1" | sed 's/.\x08//g'
	fi
}

# The long options in a --help text, one a line.
long_options() {
	grep -oE -- '(^|[^[:alnum:]-])--[a-z][a-z0-9-]*' | sed 's/^[^-]*//' | sort -u
}

# The part of a rendered page from the item of COMMAND in COMMANDS to the next command.
command_item() { # rendered page, command
	awk -v cmd="$2" '
		/^[A-Z][A-Z ]*$/ { in_commands = ($0 == "COMMANDS"); on = 0; next }
		/^   [^ ]/ { on = 0 }
		in_commands && /^     [a-z]/ { on = ($1 == cmd) }
		on { print }
	' "$1"
}

# The letter options in a --help text (not -?), one a line.
short_options() {
	grep -oE -- '^ +-[[:alnum:]]([, ]|$)' | sed 's/^ *//; s/[, ]$//' | sort -u
}

# Long then short options of a --help text.
options() {
	local text
	text=$(cat)
	long_options <<<"$text"
	short_options <<<"$text"
}

mentions() { # file, option
	grep -qE -- "(^|[^[:alnum:]-])$2([^[:alnum:]-]|\$)" "$1"
}

for page in man/*.[1-8]; do
	out=$(mandoc -Tlint -W warning "$page" 2>&1)
	if [ -z "$out" ]; then ok "mandoc -Tlint -W warning $page is clean"; else not_ok "mandoc -Tlint -W warning $page is clean" "$out"; fi
	render "$page" >"$tmp/${page##*/}.txt"
done

schedctl_txt=$tmp/schedctl.1.txt
schedlifed_txt=$tmp/schedlifed.8.txt

# schedlifed: every long option of its --help in schedlifed(8).
if "$B/schedlifed" --help >"$tmp/help" 2>&1; then
	for opt in $(options <"$tmp/help"); do
		if mentions "$schedlifed_txt" "$opt"; then ok "schedlifed.8 documents $opt"; else not_ok "schedlifed.8 documents $opt"; fi
	done
else
	not_ok "schedlifed --help exits 0" "$(cat "$tmp/help")"
fi

# schedctl: the global options, anywhere in schedctl(1).
if "$B/schedctl" --help >"$tmp/help" 2>&1; then
	for opt in $(options <"$tmp/help"); do
		if mentions "$schedctl_txt" "$opt"; then ok "schedctl.1 documents $opt"; else not_ok "schedctl.1 documents $opt"; fi
	done
else
	not_ok "schedctl --help exits 0" "$(cat "$tmp/help")"
fi

# schedctl: every command of its help, as an item of COMMANDS, with the options its own
# --help lists before the global ones.
commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' "$tmp/help")
if [ -z "$commands" ]; then
	not_ok "schedctl --help lists commands" "$(cat "$tmp/help")"
fi
for cmd in $commands; do
	command_item "$schedctl_txt" "$cmd" >"$tmp/item"
	if [ -s "$tmp/item" ]; then
		ok "schedctl.1 documents the command $cmd"
	else
		not_ok "schedctl.1 documents the command $cmd"
		continue
	fi
	[ "$cmd" = help ] && continue
	if ! "$B/schedctl" "$cmd" --help >"$tmp/cmdhelp" 2>&1; then
		not_ok "schedctl $cmd --help exits 0" "$(cat "$tmp/cmdhelp")"
		continue
	fi
	for opt in $(sed '/Global options:/,$d' "$tmp/cmdhelp" | options); do
		if mentions "$tmp/item" "$opt"; then ok "schedctl.1 documents $cmd $opt"; else not_ok "schedctl.1 documents $cmd $opt"; fi
	done
	for opt in $(options <"$tmp/cmdhelp"); do
		mentions "$schedctl_txt" "$opt" || not_ok "schedctl.1 documents $opt (from schedctl $cmd --help)"
	done
done

echo "1..$n"
[ "$failed" -eq 0 ]
