#!/usr/bin/env bash
# install_test.sh BUILD_DIR
#
# rtp2jack installs as a Debian tool would. `cmake --install` into a
# temporary prefix puts in place the program (which runs: --version), the
# manual page (made from --help at build time, so it names every flag
# --help prints; man renders it), bash completion (which offers every flag,
# and bash sources it), and the systemd user unit (pointing at the
# installed program, reading ~/.config/rtp2jack/NAME.conf). `cpack -G DEB`
# builds a package whose runtime dependencies dpkg-shlibdeps found
# (libopus0, libjack).
set -euo pipefail
build=$(cd "${1:?usage: install_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"  # TEST_TMP and its clean-up
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

prefix="$TEST_TMP/prefix"
cmake --install "$build" --prefix "$prefix" >"$TEST_TMP/install.log"
for f in bin/rtp2jack share/man/man1/rtp2jack.1 share/bash-completion/completions/rtp2jack \
  lib/systemd/user/rtp2jack@.service share/doc/rtp2jack/examples/example.conf; do
  if [[ -s $prefix/$f ]]; then echo "ok   installed $f"; else fail "not installed: $f"; fi
done
"$prefix/bin/rtp2jack" --version | grep -Eq '^rtp2jack [0-9]+\.[0-9]+\.[0-9]+$' || fail "installed program: --version"

# Every flag --help prints, in the manual page and in the completion.
flags=$("$prefix/bin/rtp2jack" --help | grep -oE '(^|[ ,])--[a-z][a-z-]*' | tr -d ' ,' | sort -u)
man_text=$(MANWIDTH=200 man -l "$prefix/share/man/man1/rtp2jack.1" 2>/dev/null)
[[ -n $man_text ]] || fail "man does not render rtp2jack.1"
completion=$(cat "$prefix/share/bash-completion/completions/rtp2jack")
n=0
for flag in $flags; do
  n=$((n + 1))
  grep -qF -- "$flag" <<<"$man_text" || fail "the manual page does not name $flag"
  grep -qF -- "$flag " <<<"$completion" || fail "the completion does not offer $flag"
done
((n >= 20)) || fail "only $n flags read from --help"
echo "ok   the manual page and the completion name all $n flags --help prints"
out=$(bash -c "source '$prefix/share/bash-completion/completions/rtp2jack'
  COMP_WORDS=(rtp2jack --sta); COMP_CWORD=1; _rtp2jack; echo \"\${COMPREPLY[*]}\"")
[[ $out == "--stats --stats-interval" ]] || fail "completion of --sta: '$out'"
out=$(bash -c "source '$prefix/share/bash-completion/completions/rtp2jack'
  COMP_WORDS=(rtp2jack --stats ''); COMP_CWORD=2; _rtp2jack; echo \"\${COMPREPLY[*]}\"")
[[ $out == "text json" ]] || fail "completion after --stats: '$out'"
echo "ok   bash completes flags and their values"

unit="$prefix/lib/systemd/user/rtp2jack@.service"
grep -q "^ExecStart=$prefix/bin/rtp2jack --name %i \$RTP2JACK_ARGS$" "$unit" || fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -q '^EnvironmentFile=%h/.config/rtp2jack/%i.conf$' "$unit" || fail "unit EnvironmentFile"
echo "ok   the user unit runs the installed program with ~/.config/rtp2jack/NAME.conf"

# The Debian package, built from the same build tree into a scratch copy of
# its CPack configuration.
(cd "$TEST_TMP" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$TEST_TMP/deb" >"$TEST_TMP/cpack.log" 2>&1) ||
  { cat "$TEST_TMP/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$TEST_TMP"/deb/*.deb 2>/dev/null | head -1)
if [[ -n $deb ]]; then
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "package $(basename "$deb"): Depends: $depends"
  grep -q 'libopus0' <<<"$depends" || fail "the package does not depend on libopus0"
  grep -Eq 'libjack-jackd2-0|libjack0' <<<"$depends" || fail "the package does not depend on libjack"
  contents=$(dpkg-deb -c "$deb")
  for f in ./usr/bin/rtp2jack ./usr/share/man/man1/rtp2jack.1 ./usr/share/bash-completion/completions/rtp2jack \
    ./usr/lib/systemd/user/rtp2jack@.service; do
    grep -qF " $f" <<<"$contents" || fail "the package lacks $f"
  done
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/user/rtp2jack@.service | grep -q '^ExecStart=/usr/bin/rtp2jack ' ||
    fail "the packaged unit does not run /usr/bin/rtp2jack"
else
  fail "no .deb built"
fi

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "PASS: install"
