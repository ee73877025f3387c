-- The schema registry's own database, named as the native stack names it (src/stack/registry.ts).
CREATE DATABASE tilgang_registry;
