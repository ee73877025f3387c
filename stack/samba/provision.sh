#!/bin/sh
# Provisions the sample Active Directory domain into $1 (once: an existing provisioning is kept).
# The Administrator's password is read from the file $2. $3 "all" listens on every interface (a
# container); by default only on loopback. Used by `tilgang stack up` and by the Docker image, so
# both run the same domain.
#
# Workarounds, each for a reason seen on Debian 12's Samba 4.17:
#  - an empty -s config: the system's /etc/samba/smb.conf (a file server's) must not leak in;
#  - server services = ldap: only LDAP/LDAPS, no Kerberos, SMB or RPC ports taken;
#  - dsdb:schema update allowed: the stack adds Exchange's extensionAttribute1 to the schema;
#  - dns-backend NONE: no DNS server, tilgang speaks LDAPS to an address;
#  - ldb:nosync: a local or test domain, like the directory's dbnosync: writes do not wait on the
#    disk (a modify 2 ms instead of 8 here). A crash may lose the last writes; tilgang re-reads.
set -eu
target=$1
adminpass_file=$2
listen=${3:-lo}
if [ -f "$target/etc/smb.conf" ] && [ -f "$target/private/sam.ldb" ]; then exit 0; fi
work="$target.provisioning"
rm -rf "$work"
mkdir -p "$work"
: > "$work/empty.conf"
if [ "$listen" = all ]; then
  set -- "--option=bind interfaces only=no"
else
  set -- "--option=interfaces=$listen" "--option=bind interfaces only=yes"
fi
samba-tool domain provision -s "$work/empty.conf" --targetdir="$work" \
  --realm=UNI.EXAMPLE.NO --domain=UNI --server-role=dc --dns-backend=NONE --use-rfc2307 \
  --adminpass="$(cat "$adminpass_file")" \
  "$@" \
  --option="server services = ldap" --option="dsdb:schema update allowed = true" --option="ldb:nosync = true" \
  --option="log file = $target/log/samba.log"
rm -f "$work/empty.conf"
# Provisioning writes absolute paths of the folder it ran in: point them at the final place.
sed -i "s#$work#$target#g" "$work/etc/smb.conf"
rm -rf "$target"
mv "$work" "$target"
mkdir -p "$target/log"
