# tilgang itself, for a container platform. Two stages: the first installs every package and
# type-checks the sources; the second keeps only the runtime packages and the files tilgang reads
# (sources run through tsx, the Avro schemas, the SQL migrations), and runs as the unprivileged
# `node` user. Not built or run on the machine this repository is developed on (no Docker there):
# test/stack/compose.test.ts checks this file's shape and the compose file against its schema.
#
#   docker build -t tilgang .
#   docker run --rm -v /etc/tilgang:/etc/tilgang:ro -p 9464:9464 tilgang run --role target:moodle
#
# The configuration is /etc/tilgang/tilgang.yaml (TILGANG_CONFIG); set runtime.metricsHost: 0.0.0.0
# in it so a probe or Prometheus outside the container reaches /healthz, /readyz and /metrics.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY avro ./avro
COPY test ./test
COPY bench ./bench
RUN npx tsc --noEmit \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf test bench

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TILGANG_CONFIG=/etc/tilgang/tilgang.yaml \
    TILGANG_LOG_FORMAT=json
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/src ./src
COPY --from=build --chown=root:root /app/avro ./avro
# The code belongs to root and is read-only for the process; it runs as `node` (uid 1000).
# The health check asks runtime.metricsPort's default (9464): change both together.
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The node options of bin/tilgang.js's first line (why there), which `node bin/tilgang.js` would skip.
ENTRYPOINT ["node", "--max-old-space-size=1024", "bin/tilgang.js"]
CMD ["run"]
