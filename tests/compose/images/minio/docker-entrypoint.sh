#!/bin/sh
# As the official image's: `docker run IMAGE server /data` means `minio server /data`.
case "$1" in
    minio) exec "$@" ;;
    *) exec minio "$@" ;;
esac
