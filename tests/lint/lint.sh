#!/usr/bin/env bash
# Static analysis as a suite: cppcheck and clang-tidy on every C file of the project, and
# the shell scripts through shellcheck. TAP: one line a tool (and a file for clang-tidy).
set -u
cd "$(dirname "$0")/../.." || exit 1
n=0 failed=0
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); printf 'not ok %d - %s\n' "$n" "$1"; }

mapfile -t c_files < <(git ls-files '*.c' 2>/dev/null || find common daemon cmd tests bench -name '*.c')
mapfile -t sh_files < <(git ls-files 'tools/*' 'tests/*.sh' 'tests/run-all' 'tests/vm/run' 'bench/run' '.ci/run' \
	'tests/integration/*.bash' 'tests/adversarial/*.bash' 'dist/*completion*' 2>/dev/null)
defs=(-D_GNU_SOURCE -DSCHEDLIFE_VERSION='"lint"' -Icommon -Idaemon -Icmd)

# variableScope is off: declarations go at the top of a function, as in OpenBSD's code.
if out=$(cppcheck --enable=warning,style,performance,portability --std=c11 --inline-suppr \
	--quiet --error-exitcode=1 --library=tests/lint/cjson.cfg "${defs[@]}" \
	--suppress=missingIncludeSystem --suppress=variableScope "${c_files[@]}" 2>&1) &&
	[ -z "$out" ]; then
	ok "cppcheck: ${#c_files[@]} files"
else
	printf '%s\n' "$out" | sed 's/^/# /'
	not_ok "cppcheck"
fi

# The checks are in .clang-tidy, with why each left-out one is left out.
cjson=$(pkg-config --cflags libcjson 2>/dev/null)
for f in "${c_files[@]}"; do
	# shellcheck disable=SC2086 # cjson is a list of flags
	if out=$(clang-tidy -quiet "$f" -- -std=gnu11 "${defs[@]}" $cjson 2>/dev/null) &&
		[ -z "$out" ]; then
		ok "clang-tidy: $f"
	else
		printf '%s\n' "$out" | sed 's/^/# /'
		not_ok "clang-tidy: $f"
	fi
done

if out=$(shellcheck -x "${sh_files[@]}" 2>&1); then
	ok "shellcheck: ${#sh_files[@]} scripts"
else
	printf '%s\n' "$out" | sed 's/^/# /'
	not_ok "shellcheck"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
