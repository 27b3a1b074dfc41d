#!/bin/bash
# Helper of ../nginx-derive.test: fetches Debian's nginx binary and its
# module headers into $1 without installing them (installing nginx starts a
# daemon), then runs nginx's configure with Debian's flags, as dh_nginx does
# for module builds, to produce objs/ngx_auto_config.h: the headers' layout
# depends on it.
set -e
cd "$1"
apt-get download nginx nginx-core nginx-dev >download.log 2>&1
for deb in *.deb; do dpkg-deb -x "$deb" root; done
cp -r root/usr/share/nginx/src src
cd src
. ./conf_flags
./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1
