#!/bin/sh
# What the official image's entrypoint does that our gateway relies on: before nginx starts,
# each /etc/nginx/templates/*.template becomes /etc/nginx/conf.d/<name> with ${VAR} filled in
# from the environment, for variables that are set only (nginx's own $variables stay).
set -eu
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
    suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
    output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
    defined_envs=$(printf '${%s} ' $(env | cut -d= -f1))
    for template in "$template_dir"/*"$suffix"; do
        [ -f "$template" ] || continue
        name=$(basename "$template" "$suffix")
        echo "$0: Running envsubst on $template to $output_dir/$name"
        envsubst "$defined_envs" < "$template" > "$output_dir/$name"
    done
    echo "$0: Ready for start up"
fi
exec "$@"
