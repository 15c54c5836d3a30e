#!/bin/sh
# make-completion.sh RTP2JACK OUT: bash completion for rtp2jack, from the
# flags its --help prints (so it cannot drift from them).
set -eu
flags=$("$1" --help | grep -oE '(^|[ ,])--[a-z][a-z-]*' | tr -d ' ,' | sort -u | tr '\n' ' ')
cat >"$2" <<EOT
# bash completion for rtp2jack (generated from rtp2jack --help)
_rtp2jack() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  case \$prev in
    --sdp) COMPREPLY=(\$(compgen -f -- "\$cur")); return ;;
    --stats) COMPREPLY=(\$(compgen -W "text json" -- "\$cur")); return ;;
    --latency) COMPREPLY=(\$(compgen -W "auto 10 20 40" -- "\$cur")); return ;;
    --connect) COMPREPLY=(\$(compgen -W "auto none" -- "\$cur")); return ;;
    --format) COMPREPLY=(\$(compgen -W "opus L16/48000/2 L24/48000/2" -- "\$cur")); return ;;
    --iface) COMPREPLY=(\$(compgen -W "\$(ls /sys/class/net 2>/dev/null)" -- "\$cur")); return ;;
  esac
  COMPREPLY=(\$(compgen -W "$flags" -- "\$cur"))
}
complete -F _rtp2jack rtp2jack
EOT
