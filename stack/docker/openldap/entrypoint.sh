#!/bin/sh
# Configures slapd from the repository's template at every start, so `docker compose up` needs no
# `tilgang stack up` first: the passwords are the files in /var/lib/tilgang/secrets (the host's
# .tilgang/secrets, the ones tilgang.example.yaml names), made here when missing; an empty
# directory gets the skeleton of the tree (suffix, containers, tilgang's service account).
set -eu
SECRETS=/var/lib/tilgang/secrets
mkdir -p "$SECRETS" /var/lib/tilgang/data /var/lib/tilgang/accesslog /var/lib/tilgang/run
secret() {
  if [ ! -s "$SECRETS/$1" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$SECRETS/$1")
  fi
  cat "$SECRETS/$1"
}
ADMIN_PW=$(secret ldap-admin)
TILGANG_PW=$(secret ldap-tilgang)
CONF=/var/lib/tilgang/run/slapd.conf
sed -e "s|@SYSTEM_SCHEMA@|/etc/ldap/schema|g" \
    -e "s|@IDAUTO_SCHEMA@|/etc/ldap/schema/idauto.schema|g" \
    -e "s|@MODULE_DIR@|/usr/lib/ldap|g" \
    -e "s|@RUN_DIR@|/var/lib/tilgang/run|g" \
    -e "s|@ACCESSLOG_DIR@|/var/lib/tilgang/accesslog|g" \
    -e "s|@DATA_DIR@|/var/lib/tilgang/data|g" \
    -e "s|@SUFFIX@|dc=meta|g" \
    -e "s|@PEOPLE_DN@|ou=Accounts,dc=meta|g" \
    -e "s|@TESTS_DN@|ou=Tests,dc=meta|g" \
    -e "s|@ADMIN_DN@|cn=admin,dc=meta|g" \
    -e "s|@TILGANG_DN@|cn=tilgang,ou=Services,dc=meta|g" \
    -e "s|@ADMIN_PW_HASH@|$(slappasswd -h '{SSHA}' -s "$ADMIN_PW")|g" \
    /etc/tilgang/slapd.conf.in > "$CONF"
chmod 600 "$CONF"
if [ ! -e /var/lib/tilgang/data/data.mdb ]; then
  slapadd -f "$CONF" -b dc=meta <<LDIF
dn: dc=meta
objectClass: top
objectClass: dcObject
objectClass: organization
dc: meta
o: meta

dn: ou=Accounts,dc=meta
objectClass: top
objectClass: organizationalUnit
ou: Accounts

dn: ou=Tests,dc=meta
objectClass: top
objectClass: organizationalUnit
ou: Tests

dn: ou=Services,dc=meta
objectClass: top
objectClass: organizationalUnit
ou: Services

dn: ou=Groups,dc=meta
objectClass: top
objectClass: organizationalUnit
ou: Groups

dn: cn=tilgang,ou=Services,dc=meta
objectClass: top
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: tilgang
description: tilgang service account: reads people and the change log, writes the provisioning status
userPassword: $(slappasswd -h '{SSHA}' -s "$TILGANG_PW")
LDIF
fi
exec slapd -f "$CONF" -h "ldap://0.0.0.0:3389/" -d 32768
