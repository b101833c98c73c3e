#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts. Writes into $CONSOLE_RUNTIME_DIR (/tmp/console):
# - console-config.json: what the console reads to sign in. With OPS_OIDC_ISSUER, the OIDC client settings
#   (OPS_OIDC_CLIENT_ID, OPS_OIDC_REDIRECT_PATH, OPS_OIDC_SCOPE) and the services' claim mapping
#   (OPS_OIDC_ROLES_CLAIM, OPS_OIDC_NAME_CLAIM, OPS_OIDC_CITY_CLAIM, OPS_OIDC_PRODUCTS_CLAIM,
#   OPS_OIDC_VENDOR_CLAIM, OPS_OIDC_ROLE_MAP as JSON); without it `{}`, the development sign-in page.
# - api.conf: a proxy location /api/<service>/ for each OPS_<SERVICE>_URL that is set (compose), none otherwise.
set -eu

out="${CONSOLE_RUNTIME_DIR:-/tmp/console}"
mkdir -p "$out"

esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

if [ -n "${OPS_OIDC_ISSUER:-}" ]; then
    json="{\"issuer\":\"$(esc "$OPS_OIDC_ISSUER")\",\"client_id\":\"$(esc "${OPS_OIDC_CLIENT_ID:-ops-console}")\""
    json="$json,\"redirect_path\":\"$(esc "${OPS_OIDC_REDIRECT_PATH:-/signin/callback}")\""
    json="$json,\"scope\":\"$(esc "${OPS_OIDC_SCOPE:-openid profile}")\""
    for name in roles name city products vendor; do
        var="OPS_OIDC_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')_CLAIM"
        eval "value=\${$var:-}"
        if [ -n "$value" ]; then
            json="$json,\"${name}_claim\":\"$(esc "$value")\""
        fi
    done
    if [ -n "${OPS_OIDC_ROLE_MAP:-}" ]; then
        json="$json,\"role_map\":$OPS_OIDC_ROLE_MAP"  # JSON already: the services parse the same value
    fi
    json="$json}"
else
    json="{}"
fi
printf '%s\n' "$json" > "$out/console-config.json"

: > "$out/api.conf"
for svc in ticketing lifecycle knowledge analytics; do
    var="OPS_$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_URL"
    eval "url=\${$var:-}"
    if [ -z "$url" ]; then
        continue
    fi
    cat >> "$out/api.conf" <<CONF
location /api/$svc/ {
    proxy_pass ${url%/}/;
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-Prefix /api/$svc;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_read_timeout 120s;
    proxy_request_buffering off;
    client_max_body_size 64m;
}
CONF
done
