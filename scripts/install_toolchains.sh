#!/usr/bin/env bash
# Install the compilers the executor needs (javac/java, g++; mcs/mono for C#, php) when absent, from
# Debian packages. Without root (a cluster login node) it only reports what is missing: the tests of
# those languages then skip.
set -u
core=() extra=()
command -v javac >/dev/null 2>&1 || core+=(default-jdk-headless)
command -v g++ >/dev/null 2>&1 || core+=(g++)
command -v mcs >/dev/null 2>&1 || extra+=(mono-mcs mono-runtime)
command -v php >/dev/null 2>&1 || extra+=(php-cli)
command -v bwrap >/dev/null 2>&1 || core+=(bubblewrap)  # the sandbox's jail (executor level "sealed")
if [ $((${#core[@]} + ${#extra[@]})) -eq 0 ]; then
  echo "toolchains: javac, g++, mcs, php and bwrap present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "toolchains: installing ${core[*]} ${extra[*]}"
  apt-get update -qq
  # one call per group: C#/PHP failing to install must not cost Java and C++
  for pkgs in "${core[*]}" "${extra[*]}"; do
    [ -n "$pkgs" ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  done
else
  echo "toolchains: missing ${core[*]} ${extra[*]} (not root: install them yourself; their tests will be skipped)"
fi
exit 0
