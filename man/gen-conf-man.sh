#!/bin/sh
# gen-conf-man.sh DAXRDMAD TEMPLATE OUTPUT: fill @SETTINGS@ with the schema's reference.
set -e
ref="$3.settings"
"$1" --config-reference > "$ref"
sed -e "/^@SETTINGS@\$/{r $ref" -e 'd;}' "$2" > "$3"
rm -f "$ref"
