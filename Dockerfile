# syntax=docker/dockerfile:1
#
# etcd-http-sd: serves an etcd service registry as Prometheus http_sd targets.
#
#   docker build -t etcd-http-sd .
#   docker run --rm -p 9911:9911 -e ETCD_HTTP_SD_ETCD_ENDPOINTS=http://etcd:2379 etcd-http-sd
#
# Configuration: every flag is also an environment variable ETCD_HTTP_SD_<FLAG>
# (`etcd-http-sd serve --help` lists them), or a YAML file mounted and named by
# ETCD_HTTP_SD_CONFIG. Secrets come from mounted files: ETCD_HTTP_SD_ETCD_PASSWORD_FILE,
# ETCD_HTTP_SD_ETCD_CA_FILE, ... The image has no etcd binary, so
# ETCD_HTTP_SD_ETCD_ENDPOINTS (or etcd.endpoints in the file) must be set.
# The same image runs the register sidecar: `docker run etcd-http-sd register --help`.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript, then keep only the runtime dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: node, the compiled server and its production node_modules ---
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="etcd-http-sd" \
      org.opencontainers.image.description="Serve an etcd-backed service registry as Prometheus http_sd_configs targets" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production \
    ETCD_HTTP_SD_LISTEN=0.0.0.0:9911
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./package.json
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist/src ./dist/src
# The image's unprivileged `node` user (uid 1000); the files above stay root-owned, read-only to it.
USER node
EXPOSE 9911
# No curl in the slim image: node asks /healthz on the port of ETCD_HTTP_SD_LISTEN, over
# HTTPS when ETCD_HTTP_SD_TLS_CERT_FILE is set (TLS set only in a config file: override this).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require(process.env.ETCD_HTTP_SD_TLS_CERT_FILE?'node:https':'node:http').get({host:'127.0.0.1',port:(process.env.ETCD_HTTP_SD_LISTEN||':9911').split(':').pop(),path:'/healthz',rejectUnauthorized:false,timeout:2000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',function(){this.destroy()})"]
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["serve"]
