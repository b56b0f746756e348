#!/usr/bin/env bash
# Install the compilers the executor needs (javac/java, g++) when absent, from Debian packages.
# Without root (a cluster login node) it only reports what is missing: Java/C++ tests then skip.
set -u
missing=()
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if [ ${#missing[@]} -eq 0 ]; then
  echo "toolchains: javac and g++ present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "toolchains: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "toolchains: missing ${missing[*]} (not root: install them yourself; Java/C++ tests will be skipped)"
fi
exit 0
