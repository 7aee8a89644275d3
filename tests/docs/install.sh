#!/usr/bin/env bash
# `make install` into a temporary DESTDIR, check the tree, then `make uninstall`. TAP.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${BUILD_DIR:-build}" && pwd) || exit 1
# A `make check VAR=...` above must not reach the make under test.
unset MAKEFLAGS MFLAGS MAKELEVEL
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
n=0 failed=0

check() { # description, command...
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$tmp/out"
		failed=$((failed + 1))
	fi
}

skip() { # description, reason
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# The files `make install PREFIX=/usr` must leave, relative to DESTDIR.
installed=(
	usr/bin/schedctl
	usr/sbin/schedlifed
	usr/share/man/man1/schedctl.1
	usr/share/man/man5/schedlifed.json.5
	usr/share/man/man7/schedlife-protocol.7
	usr/share/man/man8/schedlifed.8
	lib/systemd/system/schedlifed.service
	usr/share/bash-completion/completions/schedctl
	etc/schedlifed/schedlifed.json.example
)

is_executable() { [ -f "$1" ] && [ -x "$1" ]; }
all_present() {
	local f rc=0
	for f in "${installed[@]}"; do
		[ -f "$dest/$f" ] || {
			echo "missing: $f"
			rc=1
		}
	done
	return $rc
}
no_placeholder() { ! grep -n '@' "$1"; }
has_line() { grep -qx "$2" "$1"; }
same_file() { cmp "$1" "$2"; }
# Nothing but directories left under DESTDIR, apart from the files named.
only_left() {
	local left
	left=$(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort)
	[ "$left" = "$(printf '%s\n' "$@" | sed '/^$/d' | sort)" ] || {
		echo "left behind:"
		echo "$left"
		return 1
	}
}
verify_unit() { # systemd's own reading of the unit, with ExecStart pointing into DESTDIR
	sed "s|=/usr/sbin/schedlifed|=$dest/usr/sbin/schedlifed|" \
		"$dest/lib/systemd/system/schedlifed.service" >"$tmp/schedlifed.service"
	systemd-analyze verify --man=no "$tmp/schedlifed.service"
}

# An administrator's own config, which install and uninstall must leave alone.
mkdir -p "$dest/etc/schedlifed"
echo '{"log_keep": 7}' >"$dest/etc/schedlifed/schedlifed.json"
cp "$dest/etc/schedlifed/schedlifed.json" "$tmp/own.json"

check "make install PREFIX=/usr DESTDIR=..." make -s install PREFIX=/usr DESTDIR="$dest"
check "every file is installed" all_present
check "schedctl is executable in /usr/bin" is_executable "$dest/usr/bin/schedctl"
check "schedlifed is executable in /usr/sbin" is_executable "$dest/usr/sbin/schedlifed"
check "installed schedctl runs" "$dest/usr/bin/schedctl" --version
check "installed schedlifed runs" "$dest/usr/sbin/schedlifed" --version
check "4 man pages" test "$(find "$dest/usr/share/man" -type f | wc -l)" -eq 4
unit=$dest/lib/systemd/system/schedlifed.service
check "unit has no @ placeholder left" no_placeholder "$unit"
check "unit: ExecStart=/usr/sbin/schedlifed" has_line "$unit" 'ExecStart=/usr/sbin/schedlifed'
check "unit: Type=notify" has_line "$unit" 'Type=notify'
check "unit: KillMode=process" has_line "$unit" 'KillMode=process'
check "unit: RuntimeDirectoryPreserve=yes" has_line "$unit" 'RuntimeDirectoryPreserve=yes'
if command -v systemd-analyze >/dev/null 2>&1; then
	check "unit passes systemd-analyze verify" verify_unit
else
	skip "unit passes systemd-analyze verify" "no systemd-analyze"
fi
# shellcheck disable=SC2016 # $1 is for the inner bash
check "completion is installed under the command's name" \
	bash -c '. "$1" && complete -p schedctl' _ "$dest/usr/share/bash-completion/completions/schedctl"
check "example config passes --check-config" \
	"$B/schedlifed" --check-config -c "$dest/etc/schedlifed/schedlifed.json.example"
check "install leaves an existing schedlifed.json alone" \
	same_file "$tmp/own.json" "$dest/etc/schedlifed/schedlifed.json"
check "a second make install works" make -s install PREFIX=/usr DESTDIR="$dest"

check "make uninstall PREFIX=/usr DESTDIR=..." make -s uninstall PREFIX=/usr DESTDIR="$dest"
check "uninstall removes every installed file" only_left etc/schedlifed/schedlifed.json
check "uninstall leaves an existing schedlifed.json alone" \
	same_file "$tmp/own.json" "$dest/etc/schedlifed/schedlifed.json"

# The default PREFIX, and the unit beside it.
rm -rf "$dest"
check "make install DESTDIR=... (PREFIX=/usr/local)" make -s install DESTDIR="$dest"
check "unit under /usr/local/lib/systemd/system runs /usr/local/sbin/schedlifed" has_line \
	"$dest/usr/local/lib/systemd/system/schedlifed.service" 'ExecStart=/usr/local/sbin/schedlifed'
check "make uninstall DESTDIR=... leaves no files" make -s uninstall DESTDIR="$dest"
check "nothing left after uninstall" only_left

echo "1..$n"
[ "$failed" -eq 0 ]
